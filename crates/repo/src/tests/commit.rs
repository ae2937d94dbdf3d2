//! Commit decode / sign / verify tests.

use crate::car::{CarLimits, CarSlice};
use crate::cid_util::cid_for_cbor;
use crate::commit::{Commit, CommitDecodeError};
use crate::keys::{Curve, KeyError, PrivateKey};
use crate::test_vectors::read;

#[test]
fn real_commits_decode_and_re_encode_byte_identically() {
    for (f, did) in [
        (
            "peers/rsky/rsky-repo/resources/test/valid_repo.car",
            "did:plc:r7fdhqmw3h2cifeakw5hmvy6",
        ),
        ("peers/indigo/testing/testdata/greenground.repo.car", ""),
    ] {
        let car = read(f);
        let slice = CarSlice::parse(&car, &CarLimits::REPO).unwrap();
        let block = slice.get(&slice.roots()[0]).unwrap();
        let commit = Commit::decode(block).unwrap();
        assert_eq!(commit.version, 3);
        assert_eq!(commit.sig.len(), 64);
        if !did.is_empty() {
            assert_eq!(commit.did, did);
            assert_eq!(commit.rev, "3lhmydhwizp2d");
        }
        assert_eq!(commit.to_block(), block, "{f}");
        assert!(slice.get(&commit.data).is_some(), "MST root present");
    }
}

#[test]
fn signed_commit_verifies_and_tampering_fails() {
    for curve in [Curve::K256, Curve::P256] {
        let key = PrivateKey::generate(curve);
        let mut c = Commit::new_unsigned("did:plc:abc", cid_for_cbor(b"\xa0"), "3kaaaaaaaaaaa");
        c.sign(&key);
        c.verify(&key.public_key()).unwrap();
        let (cid, block) = c.to_block_with_cid();
        assert_eq!(cid, cid_for_cbor(&block));
        let back = Commit::decode(&block).unwrap();
        assert_eq!(back, c);
        back.verify(&key.public_key()).unwrap();
        let mut bad = c.clone();
        bad.rev = "3kaaaaaaaaaab".into();
        assert_eq!(bad.verify(&key.public_key()), Err(KeyError::BadSignature));
        let other = PrivateKey::generate(curve);
        assert_eq!(c.verify(&other.public_key()), Err(KeyError::BadSignature));
    }
}

#[test]
fn commit_with_unknown_field_or_version_is_rejected() {
    let mut e = crate::cbor::Encoder::new();
    e.map(7)
        .text("did")
        .text("did:plc:x")
        .text("rev")
        .text("r")
        .text("sig")
        .bytes(&[0; 64])
        .text("data")
        .link(&cid_for_cbor(b"x"))
        .text("prev")
        .null()
        .text("extra")
        .uint(1)
        .text("version")
        .uint(3);
    assert_eq!(
        Commit::decode(&e.into_bytes()),
        Err(CommitDecodeError::UnknownField("extra".into()))
    );
    let mut e = crate::cbor::Encoder::new();
    e.map(5)
        .text("did")
        .text("did:plc:x")
        .text("rev")
        .text("r")
        .text("sig")
        .bytes(&[0; 64])
        .text("data")
        .link(&cid_for_cbor(b"x"))
        .text("version")
        .uint(4);
    assert_eq!(
        Commit::decode(&e.into_bytes()),
        Err(CommitDecodeError::Version(4))
    );
    assert!(Commit::decode(b"\x01").is_err());
}
