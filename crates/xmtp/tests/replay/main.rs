//! Identity-update replay on updates built and signed by `testkit::xmtp`: one test per
//! replay rule, the failure classes, and every signature kind.
#![allow(clippy::unwrap_used)]

mod replay_class_tests;
mod replay_tests;
mod signature_kinds_tests;
