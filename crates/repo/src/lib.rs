//! ATProto repository primitives: DAG-CBOR, CAR, MST, commit signatures, did:key. Pure, no IO.
