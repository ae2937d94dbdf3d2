//! Full decoding of `subscribeRepos` frames into owned [`Frame`] values.

use cid::Cid;

use super::{
    AccountEvent, Commit, ErrorFrame, Frame, FrameError, HandleEvent, Header, IdentityEvent,
    InfoEvent, MAX_COMMIT_OPS, MAX_FRAME_BYTES, MigrateEvent, RepoOp, SyncEvent, TombstoneEvent,
};
use repo::cbor::{CborError, Reader};

/// Reads the header item and returns it with a reader positioned at the body.
pub fn decode_header(bytes: &[u8]) -> Result<(Header, Reader<'_>), FrameError> {
    if bytes.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge(bytes.len()));
    }
    let mut r = Reader::new(bytes);
    let (op, t) = header_fields(&mut r)?;
    let op = op.ok_or(FrameError::Header("missing op"))?;
    if op == 1 && t.is_none() {
        return Err(FrameError::Header("op 1 without t"));
    }
    Ok((
        Header {
            op,
            t: t.map(str::to_owned),
        },
        r,
    ))
}

/// Reads the header map's `op` and `t` (either may be missing; unknown keys skipped).
/// Shared by the full decoder and the filter-first peek.
pub(crate) fn header_fields<'a>(
    r: &mut Reader<'a>,
) -> Result<(Option<i64>, Option<&'a str>), FrameError> {
    let n = r
        .map_len()
        .map_err(|_| FrameError::Header("header is not a map"))?;
    let (mut op, mut t) = (None, None);
    for _ in 0..n {
        match r.str()? {
            "op" => {
                op = Some(
                    r.int()
                        .map_err(|_| FrameError::Header("op is not an integer"))?,
                )
            }
            "t" => {
                t = Some(
                    r.str()
                        .map_err(|_| FrameError::Header("t is not a string"))?,
                )
            }
            _ => r.skip()?,
        }
    }
    Ok((op, t))
}

fn cid(kind: &'static str, field: &'static str, b: &[u8]) -> Result<Cid, FrameError> {
    Cid::try_from(b).map_err(|e| FrameError::Field {
        kind,
        field,
        why: e.to_string(),
    })
}

/// Reads a value and maps a type mismatch to a non-fatal field error, while structural
/// CBOR problems stay fatal.
fn field<'a, T>(
    kind: &'static str,
    name: &'static str,
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, CborError>,
) -> Result<T, FrameError> {
    let start = r.clone();
    match f(r) {
        Ok(v) => Ok(v),
        Err(CborError::Type { expected }) => {
            // Rewind and skip the whole value so a structural error still surfaces.
            *r = start;
            r.skip()?;
            Err(FrameError::Field {
                kind,
                field: name,
                why: format!("expected {expected}"),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads a value of a deprecated field: a wrong type gives `None` (value skipped), a
/// structural error stays fatal.
fn lenient<'a, T>(
    r: &mut Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, CborError>,
) -> Result<Option<T>, FrameError> {
    let start = r.clone();
    match f(r) {
        Ok(v) => Ok(Some(v)),
        Err(_) => {
            *r = start;
            r.skip()?;
            Ok(None)
        }
    }
}

fn req<T>(kind: &'static str, field: &'static str, v: Option<T>) -> Result<T, FrameError> {
    v.ok_or(FrameError::Missing { kind, field })
}

/// Walks a body map, calling `on_key` for each key; `on_key` must consume the value.
/// The first non-fatal field error is remembered and returned after the whole map (and
/// the trailing-bytes check) has been read, so fatal errors always win.
fn walk_map<'a>(
    r: &mut Reader<'a>,
    mut on_key: impl FnMut(&'a str, &mut Reader<'a>) -> Result<(), FrameError>,
) -> Result<(), FrameError> {
    let n = r.map_len()?;
    let mut soft: Option<FrameError> = None;
    for _ in 0..n {
        let k = r.str()?;
        if let Err(e) = on_key(k, r) {
            if e.is_fatal() {
                return Err(e);
            }
            soft.get_or_insert(e);
        }
    }
    if !r.is_empty() {
        return Err(FrameError::Trailing(r.rest().len()));
    }
    soft.map_or(Ok(()), Err)
}

fn decode_op(r: &mut Reader<'_>) -> Result<RepoOp, FrameError> {
    const K: &str = "repoOp";
    let (mut action, mut path, mut cid_v, mut prev) = (None, None, None, None);
    let n = r.map_len()?;
    let mut soft = None;
    for _ in 0..n {
        let k = r.str()?;
        let res = (|| -> Result<(), FrameError> {
            match k {
                "action" => action = Some(field(K, "action", r, |r| r.str())?.to_owned()),
                "path" => path = Some(field(K, "path", r, |r| r.str())?.to_owned()),
                "cid" => {
                    cid_v = Some(match field(K, "cid", r, |r| r.opt_cid_bytes())? {
                        Some(b) => Some(cid(K, "cid", b)?),
                        None => None,
                    })
                }
                "prev" => {
                    prev = match field(K, "prev", r, |r| r.opt_cid_bytes())? {
                        Some(b) => Some(cid(K, "prev", b)?),
                        None => None,
                    }
                }
                _ => r.skip()?,
            }
            Ok(())
        })();
        match res {
            Err(e) if e.is_fatal() => return Err(e),
            Err(e) => {
                soft.get_or_insert(e);
            }
            Ok(()) => {}
        }
    }
    if let Some(e) = soft {
        return Err(e);
    }
    Ok(RepoOp {
        action: req(K, "action", action)?,
        path: req(K, "path", path)?,
        cid: cid_v.flatten(),
        prev,
    })
}

fn decode_commit(r: &mut Reader<'_>) -> Result<Commit, FrameError> {
    const K: &str = "#commit";
    let mut seq = None;
    let (mut repo, mut rev, mut since, mut commit, mut blocks) = (None, None, None, None, None);
    let (mut ops, mut prev_data, mut time, mut blobs) = (None, None, None, Vec::new());
    let (mut too_big, mut rebase) = (false, false);
    walk_map(r, |k, r| {
        match k {
            "seq" => seq = Some(field(K, "seq", r, |r| r.int())?),
            "repo" => repo = Some(field(K, "repo", r, |r| r.str())?.to_owned()),
            "rev" => rev = Some(field(K, "rev", r, |r| r.str())?.to_owned()),
            "since" => since = Some(field(K, "since", r, |r| r.opt_str())?.map(str::to_owned)),
            "commit" => commit = Some(cid(K, "commit", field(K, "commit", r, |r| r.cid_bytes())?)?),
            "blocks" => blocks = Some(field(K, "blocks", r, |r| r.bytes())?.to_vec()),
            "time" => time = Some(field(K, "time", r, |r| r.str())?.to_owned()),
            "prevData" => {
                prev_data = match field(K, "prevData", r, |r| r.opt_cid_bytes())? {
                    Some(b) => Some(cid(K, "prevData", b)?),
                    None => None,
                }
            }
            "ops" => {
                let n = r.array_len()?;
                if n > MAX_COMMIT_OPS as u64 {
                    // Still walk it so framing errors are caught, then refuse.
                    for _ in 0..n {
                        r.skip()?;
                    }
                    return Err(FrameError::Field {
                        kind: K,
                        field: "ops",
                        why: format!("{n} ops exceeds {MAX_COMMIT_OPS}"),
                    });
                }
                let mut v = Vec::with_capacity(n as usize);
                let mut soft = None;
                for _ in 0..n {
                    match decode_op(r) {
                        Ok(o) => v.push(o),
                        Err(e) if e.is_fatal() => return Err(e),
                        Err(e) => {
                            soft.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = soft {
                    return Err(e);
                }
                ops = Some(v);
            }
            "blobs" => {
                // Deprecated field: junk inside it is ignored, but it must be valid CBOR.
                if !r.take_null() {
                    let n = field(K, "blobs", r, |r| r.array_len())?;
                    for _ in 0..n {
                        if let Some(c) =
                            lenient(r, |r| r.cid_bytes())?.and_then(|b| Cid::try_from(b).ok())
                        {
                            blobs.push(c);
                        }
                    }
                }
            }
            "tooBig" => too_big = lenient(r, |r| r.bool())?.unwrap_or(false),
            "rebase" => rebase = lenient(r, |r| r.bool())?.unwrap_or(false),
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(Commit {
        seq: req(K, "seq", seq)?,
        repo: req(K, "repo", repo)?,
        rev: req(K, "rev", rev)?,
        since: since.flatten(),
        commit: req(K, "commit", commit)?,
        blocks: req(K, "blocks", blocks)?,
        ops: req(K, "ops", ops)?,
        prev_data,
        time: time.unwrap_or_default(),
        blobs,
        too_big,
        rebase,
    })
}

/// Fields shared by the small event types.
#[derive(Default)]
struct Common {
    seq: Option<i64>,
    did: Option<String>,
    time: Option<String>,
    rev: Option<String>,
    blocks: Option<Vec<u8>>,
    handle: Option<Option<String>>,
    active: Option<bool>,
    status: Option<Option<String>>,
    migrate_to: Option<Option<String>>,
    name: Option<String>,
    error: Option<String>,
    message: Option<Option<String>>,
}

fn decode_common(kind: &'static str, r: &mut Reader<'_>) -> Result<Common, FrameError> {
    let mut c = Common::default();
    walk_map(r, |k, r| {
        match k {
            "seq" => c.seq = Some(field(kind, "seq", r, |r| r.int())?),
            "did" => c.did = Some(field(kind, "did", r, |r| r.str())?.to_owned()),
            "time" => c.time = Some(field(kind, "time", r, |r| r.str())?.to_owned()),
            "rev" => c.rev = Some(field(kind, "rev", r, |r| r.str())?.to_owned()),
            "blocks" => c.blocks = Some(field(kind, "blocks", r, |r| r.bytes())?.to_vec()),
            "handle" => {
                c.handle = Some(field(kind, "handle", r, |r| r.opt_str())?.map(str::to_owned))
            }
            "active" => c.active = Some(field(kind, "active", r, |r| r.bool())?),
            "status" => {
                c.status = Some(field(kind, "status", r, |r| r.opt_str())?.map(str::to_owned))
            }
            "migrateTo" => {
                c.migrate_to =
                    Some(field(kind, "migrateTo", r, |r| r.opt_str())?.map(str::to_owned))
            }
            "name" => c.name = Some(field(kind, "name", r, |r| r.str())?.to_owned()),
            "error" => c.error = Some(field(kind, "error", r, |r| r.str())?.to_owned()),
            "message" => {
                c.message = Some(field(kind, "message", r, |r| r.opt_str())?.map(str::to_owned))
            }
            _ => r.skip()?,
        }
        Ok(())
    })?;
    Ok(c)
}

pub(super) fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    let (header, mut r) = decode_header(bytes)?;
    if header.op == -1 {
        let c = decode_common("error", &mut r)?;
        return Ok(Frame::Error(ErrorFrame {
            error: req("error", "error", c.error)?,
            message: c.message.flatten(),
        }));
    }
    let t = match (header.op, header.t.as_deref()) {
        (1, Some(t)) => t,
        _ => {
            // Unknown op: still require a well-formed body.
            r.skip()?;
            if !r.is_empty() {
                return Err(FrameError::Trailing(r.rest().len()));
            }
            return Ok(Frame::Unknown {
                op: header.op,
                t: header.t,
            });
        }
    };
    let frame = match t {
        "#commit" => Frame::Commit(decode_commit(&mut r)?),
        "#sync" => {
            let c = decode_common("#sync", &mut r)?;
            Frame::Sync(SyncEvent {
                seq: req("#sync", "seq", c.seq)?,
                did: req("#sync", "did", c.did)?,
                rev: req("#sync", "rev", c.rev)?,
                blocks: req("#sync", "blocks", c.blocks)?,
                time: c.time.unwrap_or_default(),
            })
        }
        "#identity" => {
            let c = decode_common("#identity", &mut r)?;
            Frame::Identity(IdentityEvent {
                seq: req("#identity", "seq", c.seq)?,
                did: req("#identity", "did", c.did)?,
                time: c.time.unwrap_or_default(),
                handle: c.handle.flatten(),
            })
        }
        "#account" => {
            let c = decode_common("#account", &mut r)?;
            Frame::Account(AccountEvent {
                seq: req("#account", "seq", c.seq)?,
                did: req("#account", "did", c.did)?,
                time: c.time.unwrap_or_default(),
                active: req("#account", "active", c.active)?,
                status: c.status.flatten(),
            })
        }
        "#info" => {
            let c = decode_common("#info", &mut r)?;
            Frame::Info(InfoEvent {
                name: req("#info", "name", c.name)?,
                message: c.message.flatten(),
            })
        }
        "#handle" => {
            let c = decode_common("#handle", &mut r)?;
            Frame::Handle(HandleEvent {
                seq: req("#handle", "seq", c.seq)?,
                did: req("#handle", "did", c.did)?,
                handle: req("#handle", "handle", c.handle.flatten())?,
                time: c.time.unwrap_or_default(),
            })
        }
        "#migrate" => {
            let c = decode_common("#migrate", &mut r)?;
            Frame::Migrate(MigrateEvent {
                seq: req("#migrate", "seq", c.seq)?,
                did: req("#migrate", "did", c.did)?,
                migrate_to: c.migrate_to.flatten(),
                time: c.time.unwrap_or_default(),
            })
        }
        "#tombstone" => {
            let c = decode_common("#tombstone", &mut r)?;
            Frame::Tombstone(TombstoneEvent {
                seq: req("#tombstone", "seq", c.seq)?,
                did: req("#tombstone", "did", c.did)?,
                time: c.time.unwrap_or_default(),
            })
        }
        _ => {
            r.skip()?;
            if !r.is_empty() {
                return Err(FrameError::Trailing(r.rest().len()));
            }
            Frame::Unknown {
                op: header.op,
                t: header.t,
            }
        }
    };
    Ok(frame)
}
