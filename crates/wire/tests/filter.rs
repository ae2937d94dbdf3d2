//! `peek`'s fast path against its general walk: on real relay commits, synthetic ones, and
//! mutated or truncated frames it gives exactly the general walk's result.
#![allow(clippy::unwrap_used)]
use repo::cbor::CborError;
use testkit::atproto::{SynthRepo, Write, inbox_record};
use wire::filter::{fast_commit, peek_general};
use wire::{Frame, peek};

fn scenario(name: &str) -> serde_json::Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/peers/indigo/cmd/relay/testing/testdata/"
    );
    serde_json::from_slice(&std::fs::read(format!("{p}{name}")).unwrap()).unwrap()
}

fn to_wire(frame: &serde_json::Value) -> Vec<u8> {
    let mut out = repo::cbor::json_to_cbor(&frame["header"]).unwrap();
    out.extend(repo::cbor::json_to_cbor(&frame["body"]).unwrap());
    out
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The relay scenario commits, plus synthetic ones with `since`, big seqs, several ops
/// and an inbox write.
fn commit_frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in [
        "post_lifecycle.json",
        "post_lifecycle_legacy.json",
        "rev_ordering.json",
        "seq_ordering.json",
        "legacy.json",
        "deactivation.json",
        "account_lifecycle.json",
    ] {
        let v = scenario(f);
        for m in v["messages"].as_array().unwrap() {
            out.push(to_wire(&m["frame"]));
        }
    }
    let key = repo::PrivateKey::generate(repo::Curve::K256);
    let mut r = SynthRepo::new(
        "did:plc:fastpathfastpathfastpath",
        key,
        1_780_000_000_000_000,
    );
    let like =
        repo::cbor::json_to_cbor(&serde_json::json!({"$type": "app.bsky.feed.like"})).unwrap();
    for i in 0..4i64 {
        let mut writes = vec![Write::Put(
            format!("app.bsky.feed.like/3l{i:011}"),
            like.clone(),
        )];
        if i == 2 {
            writes.push(Write::Put(
                "org.xmtp.inbox/self".into(),
                inbox_record("11", "AAECAwQFBgc=", "2026-07-04T12:00:00.000Z"),
            ));
        }
        let seq = [1, 300, 70_000, 31_500_000_000][i as usize];
        out.push(Frame::Commit(r.commit(seq, &writes)).encode());
    }
    out
}

#[test]
fn fast_path_takes_real_commits_and_agrees_with_the_general_walk() {
    let frames = commit_frames();
    let mut fast = 0;
    let mut inbox = 0;
    for b in &frames {
        if let Some(p) = fast_commit(b) {
            fast += 1;
            inbox += usize::from(p.touches_inbox);
            assert_eq!(Ok(p), peek_general(b));
        }
        assert_eq!(peek(b), peek_general(b));
    }
    // Every canonical #commit of the set (25 relay-scenario ones + 4 synthetic).
    assert_eq!(fast, 29, "the fast path must be taken on real commits");
    assert_eq!(inbox, 1);
}

/// Text fields are checked on use: a `rev` that is not UTF-8 takes the fast path, gives
/// the general walk's result, and fails only when read.
#[test]
fn text_fields_are_utf8_checked_on_use() {
    let mut b = commit_frames().swap_remove(0);
    let at = b.windows(4).position(|w| w == b"\x63rev").unwrap() + 4;
    // A short text head (major 3, length in the low bits).
    assert_eq!(b[at] >> 5, 3, "rev is not text");
    assert!(b[at] & 0x1f > 1);
    b[at + 2] = 0xff;
    let p = fast_commit(&b).expect("fast path");
    assert_eq!(Ok(p), peek_general(&b));
    assert_eq!(p.rev.unwrap().as_str(), Err(CborError::Utf8));
    assert!(p.did.unwrap().as_str().is_ok());
}

/// Mutated and truncated frames: `peek` (fast path first) returns exactly what the
/// general walk returns, Ok or the same error.
#[test]
fn fast_path_never_changes_a_result_on_mutated_frames() {
    let frames = commit_frames();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut fast_hits = 0;
    for round in 0..20_000 {
        let mut b = frames[rng.below(frames.len())].clone();
        // Mutations concentrate on the first 200 bytes, where the fast path reads.
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(b.len().min(200));
            match rng.below(4) {
                0 => b[i] = rng.next() as u8,
                1 => b[i] ^= 1 << rng.below(8),
                2 => {
                    b[i] =
                        [0x00, 0x18, 0x1b, 0x60, 0x78, 0x80, 0xa0, 0xd8, 0xf6, 0xff][rng.below(10)]
                }
                _ => {}
            }
        }
        if round % 7 == 0 {
            let cut = rng.below(b.len().min(300));
            b.truncate(cut);
        }
        let general = peek_general(&b);
        if let Some(p) = fast_commit(&b) {
            fast_hits += 1;
            assert_eq!(Ok(p), general, "fast path disagrees on {b:02x?}");
        }
        assert_eq!(peek(&b), general);
    }
    assert!(
        fast_hits > 1_000,
        "too few mutants took the fast path: {fast_hits}"
    );
}
