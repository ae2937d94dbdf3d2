//! Filter first: a look at a frame that reads only what the routing decision needs.
//!
//! [`peek`] walks the header and the top level of the body with the bounded CBOR reader,
//! reading `seq`, `repo`/`did`, `rev`, `since` and the `path` of every op, and skipping
//! everything else in O(1) per item. For a canonically encoded `#commit` it stops as soon
//! as `ops`, `rev`, `seq`, `repo` and `since` are read, i.e. before `blocks`; other frames
//! (and commits with another key order) are walked to the end, with the framing checked
//! (valid CBOR structure, no trailing bytes). A corrupt tail of a dropped commit is thus
//! not noticed; every forwarded frame is fully decoded and checked. Nothing is allocated.
//!
//! Almost every frame on the wire is a canonically encoded `#commit`, so [`peek`] first
//! tries `fast_commit`, a straight-line walk over the raw bytes for exactly that shape
//! (short heads, known keys in canonical order, ASCII op fields, CID links or null). It
//! either returns what the general walk would return, or gives up and the general walk
//! runs from the start: it never decides an error itself, so behaviour (including every
//! error and its reason) is the general walk's.

use crate::frame::{FrameError, MAX_FRAME_BYTES};
use repo::cbor::{CborError, Reader};

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

/// A text field as it is on the wire: its UTF-8 is checked only when it is used
/// ([`Text::as_str`]), so [`peek`] does not pay for fields a routing decision never reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text<'a>(&'a [u8]);

impl<'a> Text<'a> {
    /// The field as `&str`, or [`CborError::Utf8`] (what a full decode of the frame reports).
    pub fn as_str(&self) -> Result<&'a str, CborError> {
        std::str::from_utf8(self.0).map_err(|_| CborError::Utf8)
    }

    /// The raw bytes (not UTF-8 checked).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

/// What [`peek`] found out about a frame. Text fields are not UTF-8 checked yet (see
/// [`Text`]); a frame that is forwarded is fully decoded, and checked, later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peek<'a> {
    /// Message type.
    pub kind: FrameKind,
    /// Stream sequence, when the type has one.
    pub seq: Option<i64>,
    /// `repo` (commit) or `did` (other types).
    pub did: Option<Text<'a>>,
    /// `rev` (commit, sync).
    pub rev: Option<Text<'a>>,
    /// `since` (commit; `None` also when null).
    pub since: Option<Text<'a>>,
    /// Informal broadcast `time`.
    pub time: Option<Text<'a>>,
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

/// Reads a text string without checking its UTF-8 (structure and type errors as
/// [`Reader::str`]).
fn raw_str<'a>(r: &mut Reader<'a>) -> Result<Text<'a>, CborError> {
    let start = r.clone();
    match r.str() {
        Ok(s) => Ok(Text(s.as_bytes())),
        Err(CborError::Utf8) => {
            // Head and length were fine (only the UTF-8 check failed): re-read raw.
            *r = start;
            let mut pos = 0;
            let s = text_raw(r.rest(), &mut pos).ok_or(CborError::Utf8)?;
            r.skip_raw(pos)?;
            Ok(Text(s))
        }
        Err(e) => Err(e),
    }
}

/// [`raw_str`] or `null`.
fn raw_opt_str<'a>(r: &mut Reader<'a>) -> Result<Option<Text<'a>>, CborError> {
    if r.take_null() {
        return Ok(None);
    }
    raw_str(r).map(Some)
}

/// Peeks at a frame: type, seq, DID, rev/since and whether any op is in
/// `org.xmtp.inbox`, without decoding blocks. Fatal framing errors as in
/// [`crate::frame::Frame::decode`]; a missing `seq`/DID or a wrong-typed field is a
/// non-fatal error.
#[inline]
pub fn peek(bytes: &[u8]) -> Result<Peek<'_>, FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    if let Some(p) = fast_commit(bytes) {
        return Ok(p);
    }
    peek_general(bytes)
}

/// The general walk behind [`peek`]: any frame type, any valid key order, every error.
/// Same results as [`peek`], without its fast path (public as the bench's baseline).
pub fn peek_general(bytes: &[u8]) -> Result<Peek<'_>, FrameError> {
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
                        p.did = soft(&mut r, &mut bad, "repo", raw_str)?
                    }
                    "did" if kind != FrameKind::Commit => {
                        p.did = soft(&mut r, &mut bad, "did", raw_str)?
                    }
                    "time" => p.time = soft(&mut r, &mut bad, "time", raw_str)?,
                    "rev" => p.rev = soft(&mut r, &mut bad, "rev", raw_str)?,
                    "since" => p.since = soft(&mut r, &mut bad, "since", raw_opt_str)?.flatten(),
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

/// A CBOR head at `*pos` (argument in the initial byte or 1, 2, 4 or 8 bytes after it): `(major, argument)`, or `None` (fall back).
#[inline(always)]
fn head(b: &[u8], pos: &mut usize) -> Option<(u8, usize)> {
    let ib = *b.get(*pos)?;
    let (arg, len) = match ib & 0x1f {
        a @ 0..=23 => (usize::from(a), 1),
        24 => (usize::from(*b.get(*pos + 1)?), 2),
        25 => {
            let s = b.get(*pos + 1..*pos + 3)?;
            (usize::from(u16::from_be_bytes([s[0], s[1]])), 3)
        }
        26 => {
            let s = b.get(*pos + 1..*pos + 5)?;
            (
                usize::try_from(u32::from_be_bytes([s[0], s[1], s[2], s[3]])).ok()?,
                5,
            )
        }
        27 => {
            let s = b.get(*pos + 1..*pos + 9)?;
            let v = u64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
            (usize::try_from(v).ok()?, 9)
        }
        _ => return None,
    };
    *pos += len;
    Some((ib >> 5, arg))
}

/// The raw bytes of a text string at `*pos` (not UTF-8 checked).
#[inline(always)]
fn text_raw<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let mut p = *pos;
    let (3, n) = head(b, &mut p)? else {
        return None;
    };
    let s = b.get(p..p.checked_add(n)?)?;
    *pos = p + n;
    Some(s)
}

/// A text string at `*pos`, UTF-8 unchecked (see [`Text`]).
#[inline(always)]
fn text<'a>(b: &'a [u8], pos: &mut usize) -> Option<Text<'a>> {
    text_raw(b, pos).map(Text)
}

/// Steps over `null` or a CID link (tag 42 over a byte string starting with `0x00`).
#[inline(always)]
fn null_or_link(b: &[u8], pos: &mut usize) -> Option<()> {
    match b.get(*pos..*pos + 2)? {
        [0xf6, _] => {
            *pos += 1;
            Some(())
        }
        [0xd8, 0x2a] => {
            let mut p = *pos + 2;
            let (2, n) = head(b, &mut p)? else {
                return None;
            };
            if n == 0 || *b.get(p)? != 0 || p.checked_add(n)? > b.len() {
                return None;
            }
            *pos = p + n;
            Some(())
        }
        _ => None,
    }
}

/// The fast path of [`peek`] for a canonically encoded `#commit`: `Some` only with exactly
/// the result [`peek_general`] gives, `None` for anything it does not recognise (the
/// general walk then decides, errors included). Public so that tests can hold it to that.
#[inline]
pub fn fast_commit(b: &[u8]) -> Option<Peek<'_>> {
    if !b.starts_with(COMMIT_HEADER) {
        return None;
    }
    let mut pos = COMMIT_HEADER.len();
    let (5, n) = head(b, &mut pos)? else {
        return None;
    };
    let mut p = Peek {
        kind: FrameKind::Commit,
        seq: None,
        did: None,
        rev: None,
        since: None,
        time: None,
        n_ops: 0,
        touches_inbox: false,
    };
    let mut seen = 0u8;
    for _ in 0..n {
        match text_raw(b, &mut pos)? {
            b"ops" => {
                seen |= 1;
                let (4, n_ops) = head(b, &mut pos)? else {
                    return None;
                };
                p.n_ops = u32::try_from(n_ops).ok()?;
                for _ in 0..n_ops {
                    let (5, m) = head(b, &mut pos)? else {
                        return None;
                    };
                    for _ in 0..m {
                        match text_raw(b, &mut pos)? {
                            b"path" => {
                                let path = text_raw(b, &mut pos)?;
                                if !path.is_ascii() {
                                    return None;
                                }
                                p.touches_inbox |= path.starts_with(INBOX_PREFIX);
                            }
                            b"action" => {
                                if !text_raw(b, &mut pos)?.is_ascii() {
                                    return None;
                                }
                            }
                            b"cid" | b"prev" => null_or_link(b, &mut pos)?,
                            _ => return None,
                        }
                    }
                }
            }
            b"rev" => {
                seen |= 2;
                p.rev = Some(text(b, &mut pos)?);
            }
            b"seq" => {
                seen |= 4;
                let (0, v) = head(b, &mut pos)? else {
                    return None;
                };
                p.seq = Some(i64::try_from(v).ok()?);
            }
            b"repo" => {
                seen |= 8;
                p.did = Some(text(b, &mut pos)?);
            }
            b"time" => p.time = Some(text(b, &mut pos)?),
            b"blobs" => {
                // Empty (today) or null (older relays); anything else takes the general walk.
                if !matches!(b.get(pos)?, 0x80 | 0xf6) {
                    return None;
                }
                pos += 1;
            }
            b"since" => {
                seen |= 16;
                if b.get(pos) == Some(&0xf6) {
                    pos += 1;
                    p.since = None;
                } else {
                    p.since = Some(text(b, &mut pos)?);
                }
            }
            _ => return None,
        }
        if seen == 31 {
            return Some(p);
        }
    }
    None
}
