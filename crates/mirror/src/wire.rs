//! The `subscribeLinks` wire format: each binary WebSocket message is a DAG-CBOR header map
//! followed by a DAG-CBOR body map, framed like `subscribeRepos`.
//!
//! - `{"op": 1, "t": "#link"}` + `{"seq", "time", "kind", "did", "link"}`
//! - `{"op": 1, "t": "#info"}` + `{"name", "message"}` (`OutdatedCursor`)
//! - `{"op": -1}` + `{"error", "message"}` (`FutureCursor`, `ConsumerTooSlow`), then close
//!
//! Everything is untrusted: sizes are bounded by the caller's message limit, unknown kinds
//! and types are errors the caller counts and skips, a DID must parse. Only `seq`, `kind`
//! and `did` are read from a `#link`: the link view itself is never believed.

use serde::{Deserialize, Serialize};
use syntax::Did;

/// The change a `#link` event announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new link.
    Created,
    /// The record changed.
    Updated,
    /// The link became verified.
    Verified,
    /// The link became invalid.
    Invalidated,
    /// The account became inactive.
    Hidden,
    /// The account became active again.
    Shown,
    /// The link went away.
    Removed,
}

impl Kind {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "created" => Kind::Created,
            "updated" => Kind::Updated,
            "verified" => Kind::Verified,
            "invalidated" => Kind::Invalidated,
            "hidden" => Kind::Hidden,
            "shown" => Kind::Shown,
            "removed" => Kind::Removed,
            _ => return None,
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Created => "created",
            Kind::Updated => "updated",
            Kind::Verified => "verified",
            Kind::Invalidated => "invalidated",
            Kind::Hidden => "hidden",
            Kind::Shown => "shown",
            Kind::Removed => "removed",
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A link change: a hint that `did` is worth a look.
    Link {
        /// The upstream's sequence number.
        seq: i64,
        /// What the upstream says happened.
        kind: Kind,
        /// Whose link.
        did: Did,
    },
    /// `#info` (`OutdatedCursor`: events were missed).
    Info {
        /// The info name.
        name: String,
        /// Free text, shortened.
        message: Option<String>,
    },
    /// An error frame (`op: -1`); the upstream closes after it.
    Error {
        /// The error name (`FutureCursor`, `ConsumerTooSlow`, ...).
        error: String,
        /// Free text, shortened.
        message: Option<String>,
    },
}

/// Why a message was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not a DAG-CBOR header + body.
    #[error("bad DAG-CBOR: {0}")]
    Cbor(String),
    /// The header is neither `op: 1` with a type nor `op: -1`.
    #[error("bad header")]
    Header,
    /// A message type we do not know.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// A `#link` kind we do not know.
    #[error("unknown link kind {0:?}")]
    UnknownKind(String),
    /// A negative `seq`.
    #[error("bad seq {0}")]
    BadSeq(i64),
    /// The DID does not parse.
    #[error("bad DID {0:?}")]
    BadDid(String),
}

impl WireError {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            WireError::Cbor(_) => "cbor",
            WireError::Header => "header",
            WireError::UnknownType(_) => "unknown_type",
            WireError::UnknownKind(_) => "unknown_kind",
            WireError::BadSeq(_) => "bad_seq",
            WireError::BadDid(_) => "bad_did",
        }
    }
}

/// A message header.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    /// 1 = message, -1 = error.
    pub op: i64,
    /// The message type (`#link`, `#info`) when `op` is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<String>,
}

#[derive(Deserialize)]
struct LinkBody {
    seq: i64,
    kind: String,
    did: String,
}

#[derive(Deserialize)]
struct InfoBody {
    name: String,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    message: Option<String>,
}

const MAX_TEXT: usize = 256;

/// Cuts untrusted text to something fit for a log line.
fn short(mut s: String) -> String {
    if s.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn cbor<E: std::fmt::Display>(e: E) -> WireError {
    WireError::Cbor(short(e.to_string()))
}

/// Decodes one message (the caller bounds its size).
pub fn decode(bytes: &[u8]) -> Result<Event, WireError> {
    let mut de = serde_ipld_dagcbor::de::Deserializer::from_slice(bytes);
    let header = Header::deserialize(&mut de).map_err(cbor)?;
    let event = match (header.op, header.t.as_deref()) {
        (1, Some("#link")) => {
            let b = LinkBody::deserialize(&mut de).map_err(cbor)?;
            if b.seq < 0 {
                return Err(WireError::BadSeq(b.seq));
            }
            let kind = Kind::parse(&b.kind).ok_or_else(|| WireError::UnknownKind(short(b.kind)))?;
            let did = Did::parse(&b.did).map_err(|_| WireError::BadDid(short(b.did)))?;
            Event::Link {
                seq: b.seq,
                kind,
                did,
            }
        }
        (1, Some("#info")) => {
            let b = InfoBody::deserialize(&mut de).map_err(cbor)?;
            Event::Info {
                name: short(b.name),
                message: b.message.map(short),
            }
        }
        (1, Some(t)) => return Err(WireError::UnknownType(short(t.to_owned()))),
        (-1, _) => {
            let b = ErrorBody::deserialize(&mut de).map_err(cbor)?;
            Event::Error {
                error: short(b.error),
                message: b.message.map(short),
            }
        }
        _ => return Err(WireError::Header),
    };
    de.end().map_err(cbor)?;
    Ok(event)
}

/// Encodes a header and a body as one message (for test upstreams and tools).
pub fn encode<B: Serialize>(header: &Header, body: &B) -> Result<Vec<u8>, WireError> {
    let mut out = serde_ipld_dagcbor::to_vec(header).map_err(cbor)?;
    out.extend(serde_ipld_dagcbor::to_vec(body).map_err(cbor)?);
    Ok(out)
}

#[cfg(test)]
mod tests;
