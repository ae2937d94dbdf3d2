//! ATProto and XMTP identifier syntax: `Did`, `Handle`, `AtIdentifier`, `Nsid`, `RecordKey`,
//! `Tid`, `Datetime`, `AtUri`, `Cid` (string syntax only), `Language`, `Uri` and `InboxId`
//! newtypes, and [`base64`], the XMTP SDK's (Node's) lenient base64 policy for the
//! `verificationSignature` field.
//!
//! Every type is built only through `parse` (or `FromStr` / serde `Deserialize`, which call
//! it), so holding one is proof that the string passed the ATProto lexical rules. The rules
//! follow the atproto specs and the shared interop vectors (`syntax/*_valid.txt`,
//! `*_invalid.txt`). This crate does no IO and knows nothing about the network.

mod aturi;
pub mod base64;
mod cid;
mod datetime;
mod did;
mod error;
mod handle;
mod identifier;
mod inbox_id;
mod language;
mod macros;
mod nsid;
mod record_key;
mod tid;
mod uri;

pub use aturi::AtUri;
pub use cid::Cid;
pub use datetime::Datetime;
pub use did::Did;
pub use error::{SyntaxError, SyntaxKind};
pub use handle::Handle;
pub use identifier::{AtIdentifier, AtIdentifierRef};
pub use inbox_id::InboxId;
pub use language::Language;
pub use nsid::Nsid;
pub use record_key::RecordKey;
pub use tid::Tid;
pub use uri::Uri;
