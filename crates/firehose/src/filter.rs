//! Filter first: a look at a frame that reads only what the routing decision needs.
//!
//! [`peek`] walks the header and the top level of the body with the bounded CBOR reader,
//! reading `seq`, `repo`/`did`, `rev`, `since` and the `path` of every op, and skipping
//! everything else in O(1) per item. For a canonically encoded `#commit` it stops as soon
//! as `ops`, `rev`, `seq`, `repo` and `since` are read, i.e. before `blocks`; other frames
//! (and commits with another key order) are walked to the end, with the framing checked
//! (valid CBOR structure, no trailing bytes). A corrupt tail of a dropped commit is thus
//! not noticed; every forwarded frame is fully decoded and checked. Nothing is allocated.

use crate::cbor::{CborError, Reader};
use crate::frame::{FrameError, MAX_FRAME_BYTES};

/// The collection this indexer cares about.
pub const INBOX_COLLECTION: &str = "org.xmtp.inbox";
const INBOX_PREFIX: &[u8] = b"org.xmtp.inbox/";

/// Message type of a frame, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// `#commit`.
    Commit,
    /// `#sync`.
    Sync,
    /// `#identity`.
    Identity,
    /// `#account`.
    Account,
    /// `#info`.
    Info,
    /// Legacy `#handle`.
    Handle,
    /// Legacy `#migrate`.
    Migrate,
    /// Legacy `#tombstone`.
    Tombstone,
    /// Error frame (`op: -1`).
    Error,
    /// Unknown `op` or `t`.
    Unknown,
}

impl FrameKind {
    /// Label for metrics (`frames_total{type=..}`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Commit => "commit",
            Self::Sync => "sync",
            Self::Identity => "identity",
            Self::Account => "account",
            Self::Info => "info",
            Self::Handle => "handle",
            Self::Migrate => "migrate",
            Self::Tombstone => "tombstone",
            Self::Error => "error",
            Self::Unknown => "unknown",
        }
    }

    fn from_t(t: &str) -> Self {
        match t {
            "#commit" => Self::Commit,
            "#sync" => Self::Sync,
            "#identity" => Self::Identity,
            "#account" => Self::Account,
            "#info" => Self::Info,
            "#handle" => Self::Handle,
            "#migrate" => Self::Migrate,
            "#tombstone" => Self::Tombstone,
            _ => Self::Unknown,
        }
    }
}

/// What [`peek`] found out about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peek<'a> {
    /// Message type.
    pub kind: FrameKind,
    /// Stream sequence, when the type has one.
    pub seq: Option<i64>,
    /// `repo` (commit) or `did` (other types).
    pub did: Option<&'a str>,
    /// `rev` (commit, sync).
    pub rev: Option<&'a str>,
    /// `since` (commit; `None` also when null).
    pub since: Option<&'a str>,
    /// Informal broadcast `time`.
    pub time: Option<&'a str>,
    /// Number of ops (commit).
    pub n_ops: u32,
    /// True when at least one op's path is in `org.xmtp.inbox`.
    pub touches_inbox: bool,
}

// Canonical header byte patterns, tried before the general header walk.
const COMMIT_HEADER: &[u8] = b"\xa2\x61t\x67#commit\x62op\x01";

fn parse_header<'a>(r: &mut Reader<'a>) -> Result<FrameKind, FrameError> {
    if r.rest().starts_with(COMMIT_HEADER) {
        r.skip_raw(COMMIT_HEADER.len())?;
        return Ok(FrameKind::Commit);
    }
    match crate::frame::header_fields(r)? {
        (None, _) => Err(FrameError::Header("missing op")),
        (Some(-1), _) => Ok(FrameKind::Error),
        (Some(1), Some(t)) => Ok(FrameKind::from_t(t)),
        (Some(1), None) => Err(FrameError::Header("op 1 without t")),
        (Some(_), _) => Ok(FrameKind::Unknown),
    }
}

/// Reads one value with `f`; a type mismatch is rewound, skipped and remembered as a soft
/// error, structural errors propagate.
fn soft<'a, T>(
    r: &mut Reader<'a>,
    bad: &mut Option<&'static str>,
    name: &'static str,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, CborError>,
) -> Result<Option<T>, FrameError> {
    let start = r.clone();
    match f(r) {
        Ok(v) => Ok(Some(v)),
        Err(CborError::Type { .. }) => {
            *r = start;
            r.skip()?;
            bad.get_or_insert(name);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Peeks at a frame: type, seq, DID, rev/since and whether any op is in
/// `org.xmtp.inbox`, without decoding blocks. Fatal framing errors as in
/// [`crate::frame::Frame::decode`]; a missing `seq`/DID or a wrong-typed field is a
/// non-fatal error.
pub fn peek(bytes: &[u8]) -> Result<Peek<'_>, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    let mut r = Reader::new(bytes);
    let kind = parse_header(&mut r)?;
    let mut p = Peek {
        kind,
        seq: None,
        did: None,
        rev: None,
        since: None,
        time: None,
        n_ops: 0,
        touches_inbox: false,
    };
    let mut bad: Option<&'static str> = None;
    let kname = kind.label();
    match kind {
        FrameKind::Unknown | FrameKind::Info | FrameKind::Error => r.skip()?,
        _ => {
            let n = r.map_len()?;
            let mut seen = 0u8;
            for _ in 0..n {
                let k = r.str()?;
                seen |= match k {
                    "ops" => 1,
                    "rev" => 2,
                    "seq" => 4,
                    "repo" => 8,
                    "since" => 16,
                    _ => 0,
                };
                match k {
                    "ops" if kind == FrameKind::Commit => {
                        let n_ops = r.array_len()?;
                        p.n_ops = u32::try_from(n_ops).unwrap_or(u32::MAX);
                        for _ in 0..n_ops {
                            let m = r.map_len()?;
                            for _ in 0..m {
                                if r.str()? == "path" {
                                    if let Some(path) = soft(&mut r, &mut bad, "path", |r| r.str())?
                                    {
                                        p.touches_inbox |=
                                            path.as_bytes().starts_with(INBOX_PREFIX);
                                    }
                                } else {
                                    r.skip()?;
                                }
                            }
                        }
                    }
                    "seq" => p.seq = soft(&mut r, &mut bad, "seq", |r| r.int())?,
                    "repo" if kind == FrameKind::Commit => {
                        p.did = soft(&mut r, &mut bad, "repo", |r| r.str())?
                    }
                    "did" if kind != FrameKind::Commit => {
                        p.did = soft(&mut r, &mut bad, "did", |r| r.str())?
                    }
                    "time" => p.time = soft(&mut r, &mut bad, "time", |r| r.str())?,
                    "rev" => p.rev = soft(&mut r, &mut bad, "rev", |r| r.str())?,
                    "since" => {
                        p.since = soft(&mut r, &mut bad, "since", |r| r.opt_str())?.flatten()
                    }
                    _ => r.skip()?,
                }
                // Canonical order puts ops, rev, seq, repo, time, blobs, since before
                // blocks: once all routing fields are read, stop (blocks and the CIDs
                // after them are only decoded, and checked, for frames that matter).
                if kind == FrameKind::Commit && seen == 31 && bad.is_none() {
                    return finish(p, kind);
                }
            }
        }
    }
    if !r.is_empty() {
        return Err(FrameError::Trailing(r.rest().len()));
    }
    if let Some(field) = bad {
        return Err(FrameError::Field {
            kind: kname,
            field,
            why: "wrong type".into(),
        });
    }
    finish(p, kind)
}

/// Required-field checks shared by the early and the full exit of [`peek`].
fn finish(p: Peek<'_>, kind: FrameKind) -> Result<Peek<'_>, FrameError> {
    let kname = kind.label();
    let needs_seq_did = !matches!(
        kind,
        FrameKind::Unknown | FrameKind::Info | FrameKind::Error
    );
    if needs_seq_did {
        if p.seq.is_none() {
            return Err(FrameError::Missing {
                kind: kname,
                field: "seq",
            });
        }
        if p.did.is_none() {
            let field = if kind == FrameKind::Commit {
                "repo"
            } else {
                "did"
            };
            return Err(FrameError::Missing { kind: kname, field });
        }
    }
    if kind == FrameKind::Commit && p.rev.is_none() {
        return Err(FrameError::Missing {
            kind: kname,
            field: "rev",
        });
    }
    Ok(p)
}
