//! The SQL of every [`Change`], run by the writer thread inside the batch's transaction.

use rusqlite::{Connection, OptionalExtension, params};
use syntax::Tid;

use crate::compact::{Col, did_key, encode, encode_opt, encode_reason};
use crate::types::{Batch, Change, RecordInput, Status};

/// Applies a whole batch (changes, counters, cursor) on `conn`, which is inside a transaction.
pub(crate) fn apply_batch(conn: &Connection, batch: &Batch, now_ms: i64) -> rusqlite::Result<()> {
    // The outbox rows of visible link changes land in the same transaction, in order.
    let mut events = crate::outbox::PendingEvents::default();
    for change in &batch.changes {
        if matches!(change, Change::PruneLinkEvents { .. }) {
            events.flush(conn)?;
        }
        let watched = crate::outbox::before(conn, change)?;
        match change {
            // The snapshot already says whether the DID has a link: no upsert needed.
            Change::PutRecord { did, rev, record } => {
                let exists = watched.first_has_row;
                put_record(conn, did.as_str(), rev.as_ref(), record, exists, now_ms)?;
            }
            _ => apply_change(conn, change, now_ms)?,
        }
        crate::outbox::record(conn, watched.watched, now_ms, &mut events)?;
    }
    events.flush(conn)?;
    let s = batch.stats;
    if s.frames != 0 || s.commits_verified != 0 || s.commits_rejected != 0 {
        conn.prepare_cached(
            "UPDATE firehose_state SET frames = frames + ?1,
                commits_verified = commits_verified + ?2,
                commits_rejected = commits_rejected + ?3 WHERE id = 1",
        )?
        .execute(params![
            s.frames as i64,
            s.commits_verified as i64,
            s.commits_rejected as i64
        ])?;
    }
    if let Some(cursor) = batch.cursor {
        conn.prepare_cached("UPDATE firehose_state SET cursor = ?1 WHERE id = 1")?
            .execute([cursor])?;
    }
    Ok(())
}

fn apply_change(conn: &Connection, change: &Change, now_ms: i64) -> rusqlite::Result<()> {
    match change {
        Change::PutRecord { did, rev, record } => {
            let exists = conn
                .prepare_cached("SELECT 1 FROM links WHERE did = ?1")?
                .exists([did_key(did.as_str())])?;
            put_record(conn, did.as_str(), rev.as_ref(), record, exists, now_ms)
        }
        Change::DeleteRecord { did, rev } => {
            if accept_rev(conn, did.as_str(), rev.as_ref())? {
                let key = did_key(did.as_str());
                crate::handles::unlink(conn, &key)?;
                conn.prepare_cached("DELETE FROM links WHERE did = ?1")?
                    .execute([key])?;
            }
            Ok(())
        }
        Change::AccountStatus {
            did,
            active,
            status,
        } => account_status(conn, did.as_str(), *active, status.as_deref(), now_ms),
        Change::Handle { did, handle } => crate::handles::set(
            conn,
            did.as_str(),
            handle.as_ref().map(syntax::Handle::as_str),
            now_ms,
        ),
        Change::RepoState {
            did,
            rev,
            data_cid,
            commit_cid,
        } => {
            conn.prepare_cached(
                "INSERT INTO repo_state (did, rev, data_cid, commit_cid) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (did) DO UPDATE SET rev = excluded.rev,
                    data_cid = excluded.data_cid, commit_cid = excluded.commit_cid
                 WHERE excluded.rev >= repo_state.rev",
            )?
            .execute(params![
                did.as_str(),
                rev.as_str(),
                data_cid.as_str(),
                commit_cid.as_str()
            ])?;
            Ok(())
        }
        Change::Verdict {
            did,
            record_cid,
            status,
            reason,
            installation_key,
        } => {
            let verified_at = (*status == Status::Verified).then_some(now_ms);
            conn.prepare_cached(
                "UPDATE OR FAIL links SET status = ?3, reason = ?4, installation_key = ?5,
                    verified_at = ?6, not_before = 0
                 WHERE did = ?1 AND record_cid = ?2",
            )?
            .execute(params![
                did_key(did.as_str()),
                encode(Col::Cid, record_cid.as_str()),
                status.code(),
                encode_reason(reason.as_deref()),
                encode_opt(Col::Hex, installation_key.as_deref()),
                verified_at
            ])?;
            Ok(())
        }
        Change::RetryLater {
            did,
            record_cid,
            not_before,
        } => {
            conn.prepare_cached(
                "UPDATE links SET not_before = ?3 WHERE did = ?1 AND record_cid = ?2",
            )?
            .execute(params![
                did_key(did.as_str()),
                encode(Col::Cid, record_cid.as_str()),
                not_before
            ])?;
            Ok(())
        }
        Change::InboxState {
            inbox_id,
            last_sequence_id,
            state,
        } => {
            // u64 stored bit-for-bit in SQLite's i64; read back with the same cast.
            conn.prepare_cached(
                "INSERT INTO xmtp_inboxes (inbox_id, last_sequence_id, state, updated_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (inbox_id) DO UPDATE SET last_sequence_id = excluded.last_sequence_id,
                    state = excluded.state, updated_at = excluded.updated_at",
            )?
            .execute(params![inbox_id, *last_sequence_id as i64, state, now_ms])?;
            Ok(())
        }
        Change::Backfill(change) => crate::backfill::apply(conn, change, now_ms),
        Change::Resync(change) => crate::resync::apply(conn, change, now_ms),
        Change::PruneLinkEvents {
            up_to_seq,
            before_ms,
        } => crate::outbox::prune(conn, *up_to_seq, *before_ms),
        Change::Upstream { upstream, state } => {
            crate::upstream::apply(conn, upstream, state, now_ms)
        }
    }
}

/// The rev rule: a change carrying `rev` is dropped when the stored rev is newer; otherwise the
/// stored rev moves up to `rev`, so a later-arriving older change is dropped in turn.
fn accept_rev(conn: &Connection, did: &str, rev: Option<&Tid>) -> rusqlite::Result<bool> {
    let Some(rev) = rev.map(Tid::as_str) else {
        return Ok(true);
    };
    let stored: Option<String> = conn
        .prepare_cached("SELECT rev FROM repo_state WHERE did = ?1")?
        .query_row([did], |r| r.get(0))
        .optional()?;
    match stored {
        Some(s) if s.as_str() > rev => Ok(false),
        Some(s) if s.as_str() == rev => Ok(true),
        _ => {
            conn.prepare_cached(
                "INSERT INTO repo_state (did, rev) VALUES (?1, ?2)
                 ON CONFLICT (did) DO UPDATE SET rev = excluded.rev",
            )?
            .execute([did, rev])?;
            Ok(true)
        }
    }
}

/// Writes the link of a `PutRecord`; `exists`: `did` has a link now (read in this
/// transaction). A plain `INSERT` or `UPDATE` rather than an upsert, both `OR FAIL`: an upsert's
/// `DO UPDATE` and the default `OR ABORT` make SQLite keep a statement journal for the
/// `link_counts` triggers (a 16 KB copy of every page the statement touches, the largest
/// cost of bulk writes), and the journal buys nothing here: any failed statement fails its
/// batch, whose whole transaction is rolled back.
fn put_record(
    conn: &Connection,
    did: &str,
    rev: Option<&Tid>,
    record: &RecordInput,
    exists: bool,
    now_ms: i64,
) -> rusqlite::Result<()> {
    if !accept_rev(conn, did, rev)? {
        return Ok(());
    }
    let (status, reason) = match &record.malformed {
        Some(reason) => (Status::Invalid, Some(reason.as_str())),
        None => (Status::Pending, None),
    };
    // The same CID again is a no-op (the WHERE), hidden follows the account's state, and a
    // new link takes the DID's handle from `unlinked_handles` (an existing link keeps its
    // own; the handle then leaves that table, below).
    let key = did_key(did);
    let sql = if exists {
        "UPDATE OR FAIL links SET inbox_id = ?2, record_cid = ?3, signature = ?4,
            created_at = ?5, status = ?6, reason = ?7, installation_key = NULL,
            verified_at = NULL, indexed_at = ?8, not_before = 0,
            hidden = COALESCE((SELECT active = 0 FROM accounts WHERE did = ?9), 0)
         WHERE did = ?1 AND record_cid IS NOT ?3"
    } else {
        "INSERT OR FAIL INTO links (did, inbox_id, record_cid, signature, created_at, status,
            reason, installation_key, verified_at, indexed_at, not_before, hidden, handle,
            handle_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL, ?8, 0,
            COALESCE((SELECT active = 0 FROM accounts WHERE did = ?9), 0),
            (SELECT handle FROM unlinked_handles WHERE did = ?1),
            (SELECT updated_at FROM unlinked_handles WHERE did = ?1))"
    };
    conn.prepare_cached(sql)?.execute(params![
        &key,
        encode(Col::Hex, &record.inbox_id),
        encode(Col::Cid, record.cid.as_str()),
        encode(Col::Base64, &record.verification_signature),
        encode(Col::Time, &record.created_at),
        status.code(),
        encode_reason(reason),
        now_ms,
        did
    ])?;
    // A new link's handle left `unlinked_handles` in its INSERT (trigger
    // `links_take_handle`, 0012); an existing link keeps its own, so any other is dropped.
    if exists {
        conn.prepare_cached("DELETE FROM unlinked_handles WHERE did = ?1")?
            .execute([key])?;
    }
    Ok(())
}

fn account_status(
    conn: &Connection,
    did: &str,
    active: bool,
    status: Option<&str>,
    now_ms: i64,
) -> rusqlite::Result<()> {
    if status == Some("deleted") {
        let key = did_key(did);
        crate::handles::forget(conn, &key)?;
        conn.prepare_cached("DELETE FROM links WHERE did = ?1")?
            .execute([key])?;
        for sql in [
            "DELETE FROM accounts WHERE did = ?1",
            "DELETE FROM resync_queue WHERE did = ?1",
        ] {
            conn.prepare_cached(sql)?.execute([did])?;
        }
        // A rev floor survives the account: a replayed older commit (or a stale getRecord
        // answer) cannot bring the old link back. The floor is the deletion time as a TID.
        let floor = syntax::Tid::from_parts((now_ms.max(0) as u64) * 1000, 0);
        conn.prepare_cached(
            "INSERT INTO repo_state (did, rev, data_cid, commit_cid) VALUES (?1, ?2, NULL, NULL)
             ON CONFLICT (did) DO UPDATE SET rev = max(repo_state.rev, excluded.rev),
                data_cid = NULL, commit_cid = NULL",
        )?
        .execute(params![did, floor.as_str()])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO accounts (did, active, status, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (did) DO UPDATE SET active = excluded.active, status = excluded.status,
            updated_at = excluded.updated_at",
    )?
    .execute(params![did, active, status, now_ms])?;
    conn.prepare_cached("UPDATE OR FAIL links SET hidden = ?2 WHERE did = ?1 AND hidden != ?2")?
        .execute(params![did_key(did), !active])?;
    Ok(())
}
