//! Frame decoding: the filter-first peek, the full decode, the gate, and the commit
//! structure checks must never panic, and the peek must agree with the full decode.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peeked = firehose::peek(data);
    let full = firehose::Frame::decode(data);
    if let (Ok(p), Ok(f)) = (&peeked, &full) {
        assert_eq!(p.seq, f.seq());
        assert_eq!(p.did, f.did());
    }
    if let Ok(firehose::Frame::Commit(c)) = &full {
        let _ = sync::commit::parse_commit(&firehose::process::envelope(c), u64::MAX / 2);
        // Canonical re-encoding decodes to the same value.
        let again = firehose::Frame::Commit(c.clone()).encode();
        assert_eq!(firehose::Frame::decode(&again).ok(), full.clone().ok());
    }
    let tracked = std::sync::Arc::new(std::sync::RwLock::new(Default::default()));
    let mut gate = firehose::gate::Gate::new(tracked, false, None);
    let _ = gate.on_message(bytes::Bytes::copy_from_slice(data));
});
