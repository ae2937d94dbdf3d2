//! Real-shaped identifiers for tests that need a DID, CID, rev or handle but no repo:
//! each helper is deterministic, so the same label gives the same value in an assertion.

use syntax::{Cid, Did, Handle, Tid};

/// The DID `s`; panics (it is a test's own literal) when it is not one.
pub fn did(s: &str) -> Did {
    Did::parse(s).unwrap_or_else(|e| panic!("test DID {s:?}: {e}"))
}

/// A real CID (CIDv1, DAG-CBOR, SHA-256) named by `label`: the CID of the label's bytes, so
/// distinct labels give distinct CIDs.
pub fn cid(label: &str) -> Cid {
    let text = repo::cid_util::cid_for_cbor(label.as_bytes()).to_string();
    Cid::parse(&text).unwrap_or_else(|e| panic!("test CID {text:?}: {e}"))
}

/// The rev (TID) of `micros` microseconds after the epoch, clock id 0: revs sort like `n`.
pub fn tid(micros: u64) -> Tid {
    Tid::from_parts(micros, 0)
}

/// The handle `s` (lowercased); panics when it is not one.
pub fn handle(s: &str) -> Handle {
    Handle::parse(s).unwrap_or_else(|e| panic!("test handle {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_identifiers_are_valid_distinct_and_stable() {
        assert_ne!(cid("a"), cid("b"));
        assert_eq!(cid("a"), cid("a"));
        assert!(cid("a").starts_with("bafyrei"), "{}", cid("a"));
        assert!(tid(1) < tid(2));
        assert_eq!(did("did:plc:alice").method(), "plc");
        assert_eq!(handle("Alice.Test").as_str(), "alice.test");
    }
}
