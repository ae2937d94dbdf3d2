//! Garbage never panics: a few thousand pseudo-random buffers and mutated real frames go
//! through the filter, the full decoder, the CAR reader and the record reader (the same
//! entry points as the `fuzz/` targets, so CI exercises them on stable).

use bytes::Bytes;

use super::support::*;
use crate::frame::Frame;
use sync::record::parse_inbox_record;

fn real_frames() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in [
        "post_lifecycle.json",
        "account_lifecycle.json",
        "deactivation.json",
    ] {
        let v = json(&format!("peers/indigo/cmd/relay/testing/testdata/{f}"));
        for m in v["messages"].as_array().unwrap() {
            out.push(wire(&m["frame"]));
        }
    }
    out
}

/// Runs every decoder on `b`; returns how many accepted it (just to use the results).
fn feed(b: &[u8]) -> usize {
    let mut ok = 0;
    ok += usize::from(wire::peek(b).is_ok());
    if let Ok(Frame::Commit(c)) = Frame::decode(b) {
        ok += 1;
        ok += usize::from(
            sync::commit::parse_commit(&crate::process::envelope(&c), u64::MAX / 2).is_ok(),
        );
    }
    ok += usize::from(repo::CarSlice::parse(b, &repo::CarLimits::COMMIT).is_ok());
    ok += usize::from(
        parse_inbox_record(testkit::ids::cid("c"), b)
            .malformed
            .is_none(),
    );
    ok
}

#[test]
fn random_and_mutated_frames_never_panic() {
    let frames = real_frames();
    assert!(frames.len() >= 18);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    let mut accepted = 0;
    for _ in 0..1_000 {
        let len = rng.below(300);
        let buf: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        accepted += feed(&buf);
        runs += 1;
    }
    for i in 0..3_000 {
        let mut f = frames[i % frames.len()].clone();
        match rng.below(4) {
            0 => {
                for _ in 0..=rng.below(8) {
                    let at = rng.below(f.len());
                    f[at] = rng.next() as u8;
                }
            }
            1 => f.truncate(rng.below(f.len())),
            2 => {
                let at = rng.below(f.len());
                f.insert(at, rng.next() as u8);
            }
            _ => {
                let at = rng.below(f.len());
                f[at] ^= 1 << rng.below(8);
            }
        }
        accepted += feed(&f);
        runs += 1;
    }
    // Unmutated frames all pass the filter and the full decode.
    for f in &frames {
        assert!(wire::peek(f).is_ok());
        assert!(Frame::decode(f).is_ok());
    }
    assert_eq!(runs, 4_000);
    assert!(accepted > 0);
}

#[test]
fn gate_survives_garbage_and_reports_fatal_framing() {
    let (_dir, store) = temp_store();
    let (mut gate, _p, _jobs, _) = stages(
        &store,
        std::sync::Arc::new(sync::StaticIdentity::new()),
        false,
    );
    let v = gate.on_message(Bytes::from_static(&[0xff, 0xff]));
    assert!(matches!(v, crate::gate::Verdict::Fatal(_)), "{v:?}");
}
