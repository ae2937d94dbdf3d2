//! Frame decoding: the filter-first peek, the full decode, the gate, and the commit
//! structure checks must never panic, and the peek must agree with the full decode.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peeked = wire::peek(data);
    let full = wire::Frame::decode(data);
    if let (Ok(p), Ok(f)) = (&peeked, &full) {
        assert_eq!(p.seq, f.seq());
        assert_eq!(p.did.map(|t| t.as_str().ok()), f.did().map(Some));
    }
    if let Ok(wire::Frame::Commit(c)) = &full {
        let _ = sync::commit::parse_commit(&firehose::process::envelope(c), u64::MAX / 2);
        // Canonical re-encoding decodes to the same value.
        let again = wire::Frame::Commit(c.clone()).encode();
        assert_eq!(wire::Frame::decode(&again).ok(), full.clone().ok());
    }
    let mut gate = firehose::gate::Gate::new(firehose::TrackedSet::new(), false, None);
    let _ = gate.on_message(bytes::Bytes::copy_from_slice(data));
});
