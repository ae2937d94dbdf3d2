//! Record decoding: the lenient `org.xmtp.inbox` reader never panics and always yields a
//! bounded RecordInput (malformed with a reason when the bytes are not a valid record).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cid) = syntax::Cid::parse("bafyreifuzzrecord") else {
        return;
    };
    let r = sync::record::parse_inbox_record(cid, data);
    assert!(r.verification_signature.len() <= sync::record::MAX_SIGNATURE_CHARS);
    assert!(r.inbox_id.len() <= sync::record::MAX_INBOX_ID_CHARS);
    if r.malformed.is_none() {
        assert_eq!(r.inbox_id.len(), 64);
    }
});
