//! CAR reading: the slice reader (every block hash-checked) and the getRecord proof
//! reader must never panic on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = repo::CarSlice::parse(data, &repo::CarLimits::COMMIT);
    if let Ok(did) = syntax::Did::parse("did:plc:fuzz") {
        let _ = sync::proofs::read_inbox_proof(data, &did);
    }
});
