//! The read queries, as plain functions over a connection; the [`crate::Reader`] runs them on
//! its pool. Every query that returns links filters hidden (inactive) accounts.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::compact::{Col, did_at, did_key, encode, opt_text_at, reason_str, text_at};
use crate::cursor;
use crate::did_keys::DidKeys;
use crate::error::StoreError;
use crate::json;
use crate::rows;
use crate::time::format_unix_millis;
use crate::types::{CheckItem, Counts, FirehoseState, LinkView, RecordView, RepoState, Status};
use syntax::{Cid, Did, Handle, Tid};

/// The columns [`link_from_row`] reads, in order.
pub(crate) const LINK_COLUMNS: &str =
    "l.did, l.handle, l.inbox_id, l.status, l.reason, l.record_cid,
    l.signature, l.created_at, l.installation_key, l.verified_at, l.indexed_at";

/// `SELECT <the columns link_from_row reads> FROM links l` followed by the
/// rest of the query, as one literal (so the statement-cache key costs nothing per query).
macro_rules! select_links {
    ($($rest:literal)*) => {
        concat!(
            "SELECT l.did, l.handle, l.inbox_id, l.status, l.reason, l.record_cid, l.signature, ",
            "l.created_at, l.installation_key, l.verified_at, l.indexed_at ",
            "FROM links l ",
            $($rest),*
        )
    };
}

/// The status stored (as [`Status::code`]) at `idx`.
pub(crate) fn status_from(row: &Row<'_>, idx: usize) -> rusqlite::Result<Status> {
    let code = row.get_ref(idx)?.as_i64()?;
    Status::from_code(code).ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(idx, code))
}

/// Runs `f` inside one read transaction: a consistent snapshot, and one lock round-trip for
/// a whole batch of lookups instead of one per statement.
fn in_read_tx<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let tx = conn.unchecked_transaction()?;
    let out = f(&tx)?;
    tx.finish()?;
    Ok(out)
}

/// The link of a row of [`LINK_COLUMNS`]; a [`rows::BadRow`] error when its DID, handle or
/// record CID does not parse (the callers skip the row with [`rows::skip_bad`]).
pub(crate) fn link_from_row(row: &Row<'_>) -> rusqlite::Result<LinkView> {
    const AT: &str = "links";
    let did = rows::parse((AT, "did"), 0, &did_at(row, 0)?, Did::parse)?;
    let handle = rows::parse_opt(
        (AT, "handle"),
        1,
        row.get_ref(1)?.as_str_or_null()?,
        Handle::parse,
    )?;
    let cid = rows::parse(
        (AT, "record_cid"),
        5,
        &text_at(row, 5, Col::Cid)?,
        Cid::parse,
    )?;
    let uri = format!("at://{did}/org.xmtp.inbox/self");
    Ok(LinkView {
        handle,
        inbox_id: text_at(row, 2, Col::Hex)?,
        status: status_from(row, 3)?,
        reason: reason_str(row.get_ref(4)?).map(|r| r.into_owned()),
        record: RecordView {
            uri,
            cid,
            verification_signature: text_at(row, 6, Col::Base64)?,
            created_at: text_at(row, 7, Col::Time)?,
        },
        installation_key: opt_text_at(row, 8, Col::Hex)?,
        verified_at: row.get::<_, Option<i64>>(9)?.map(format_unix_millis),
        indexed_at: format_unix_millis(row.get(10)?),
        did,
    })
}

/// The visible link of `did`.
pub(crate) fn link_by_did(conn: &Connection, did: &str) -> rusqlite::Result<Option<LinkView>> {
    rows::skip_bad_opt(
        conn.prepare_cached(select_links!("WHERE l.did = ?1 AND l.hidden = 0"))?
            .query_row([did_key(did)], link_from_row)
            .optional(),
    )
}

/// The visible links of `dids`, in input order, unknown and repeated DIDs left out.
pub(crate) fn links_by_dids(conn: &Connection, dids: &[String]) -> rusqlite::Result<Vec<LinkView>> {
    let mut seen = HashSet::with_capacity(dids.len());
    in_read_tx(conn, |conn| {
        let mut out = Vec::with_capacity(dids.len());
        for did in dids {
            if !seen.insert(did.as_str()) {
                continue;
            }
            if let Some(link) = link_by_did(conn, did)? {
                out.push(link);
            }
        }
        Ok(out)
    })
}

/// The link view of `did` as JSON bytes, with its status.
pub(crate) fn link_json_by_did(
    conn: &Connection,
    did: &str,
) -> rusqlite::Result<Option<(Status, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(select_links!("WHERE l.did = ?1 AND l.hidden = 0"))?;
    let mut rows = stmt.query([did_key(did)])?;
    match rows.next()? {
        Some(row) => {
            let mut out = Vec::with_capacity(768);
            let status = json::write_link(row, &mut out)?;
            Ok(Some((status, out)))
        }
        None => Ok(None),
    }
}

/// DIDs looked up per `links_json_by_dids` statement: the statement text comes in these
/// sizes (the smallest that fits, unused slots bound to NULL), so that a handful of
/// prepared statements serve every batch.
const KEYS_PER_STATEMENT: [usize; 4] = [4, 16, 40, 100];

/// `SELECT k.column1, <link columns but the DID> FROM (VALUES (0, ?1), ..., (n - 1, ?n)) k
/// CROSS JOIN links l ...`: one statement for `n` DID keys. `CROSS JOIN` pins the join order
/// (SQLite's documented way): the keys are the outer loop, each one a primary-key probe, so
/// rows come out in key order. Column 0 is the slot of the key that found the row (an
/// integer the caller maps back to the key it bound) instead of the stored DID read back.
fn links_by_keys_sql(n: usize) -> String {
    let columns = LINK_COLUMNS.strip_prefix("l.did,").unwrap_or(LINK_COLUMNS);
    let mut sql = format!("SELECT k.column1,{columns} FROM (VALUES ");
    for i in 1..=n {
        if i > 1 {
            sql.push(',');
        }
        sql.push_str(&format!("({},?{i})", i - 1));
    }
    sql.push_str(") AS k CROSS JOIN links l ON l.did = k.column2 WHERE l.hidden = 0");
    sql
}

static LINKS_BY_KEYS_SQL: std::sync::LazyLock<[String; 4]> =
    std::sync::LazyLock::new(|| KEYS_PER_STATEMENT.map(links_by_keys_sql));

/// A cheap multiply-fold hash for removing repeated DIDs from one batch. Not keyed, so
/// crafted collisions are possible; an XRPC request holds at most 100 DIDs (`MAX_BATCH`),
/// which bounds a full collision at a few thousand string comparisons. SipHash cost ~250
/// instructions per DID here, a tenth of rendering its link.
#[derive(Default)]
struct FoldHasher(u64);

impl std::hash::Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

#[derive(Default, Clone, Copy)]
struct BuildFoldHasher;

impl std::hash::BuildHasher for BuildFoldHasher {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher::default()
    }
}

/// The body `{"links":[...]}` for `dids`: input order, unknown and repeated DIDs left out,
/// only verified links unless `include_unverified`, all from one snapshot. One statement per
/// 100 DIDs (a `VALUES` list joined to the primary key) instead of one probe per DID.
pub(crate) fn links_json_by_dids(
    conn: &Connection,
    dids: &DidKeys,
    include_unverified: bool,
) -> rusqlite::Result<Vec<u8>> {
    // A key is a pure, one-to-one function of its DID: repeated keys are repeated DIDs.
    let mut seen = HashSet::with_capacity_and_hasher(dids.len(), BuildFoldHasher);
    let keys: Vec<&[u8]> = dids.iter().filter(|k| seen.insert(*k)).collect();
    let mut out = Vec::with_capacity(16 + keys.len() * 768);
    out.extend_from_slice(b"{\"links\":[");
    let mut first = true;
    let max = KEYS_PER_STATEMENT[KEYS_PER_STATEMENT.len() - 1];
    in_read_tx(conn, |conn| {
        for chunk_start in (0..keys.len()).step_by(max) {
            let chunk = chunk_start..keys.len().min(chunk_start + max);
            let size = KEYS_PER_STATEMENT
                .iter()
                .position(|&n| n >= chunk.len())
                .unwrap_or(KEYS_PER_STATEMENT.len() - 1);
            let mut stmt = conn.prepare_cached(&LINKS_BY_KEYS_SQL[size])?;
            for (slot, i) in chunk.clone().enumerate() {
                stmt.raw_bind_parameter(slot + 1, keys[i])?;
            }
            for slot in chunk.len()..KEYS_PER_STATEMENT[size] {
                stmt.raw_bind_parameter(slot + 1, rusqlite::types::Null)?;
            }
            let mut rows = stmt.raw_query();
            // Rows follow the keys (the outer loop); `next` is the first slot a row may
            // still come from, and any row out of that order is a bug, not a silent
            // reordering.
            let mut next = chunk.start;
            while let Some(row) = rows.next()? {
                let slot = usize::try_from(row.get_ref(0)?.as_i64()?).ok();
                let i = match slot.map(|s| chunk.start + s) {
                    Some(i) if i >= next && i < chunk.end => i,
                    _ => return Err(rusqlite::Error::InvalidQuery),
                };
                next = i + 1;
                let mark = out.len();
                if !first {
                    out.push(b',');
                }
                let status = json::write_link_keyed(row, keys[i], &mut out)?;
                if include_unverified || status == Status::Verified {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
        }
        Ok(())
    })?;
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// [`did_by_handle`] for many handles in one snapshot, one answer per handle.
pub(crate) fn dids_by_handles(
    conn: &Connection,
    handles: &[String],
) -> rusqlite::Result<Vec<Option<Did>>> {
    in_read_tx(conn, |conn| {
        handles.iter().map(|h| did_by_handle(conn, h)).collect()
    })
}

/// [`links_by_inbox`] for many inboxes in one snapshot: one entry per distinct inbox.
pub(crate) fn links_by_inboxes(
    conn: &Connection,
    inbox_ids: Vec<String>,
    include_unverified: bool,
    limit: usize,
) -> rusqlite::Result<Vec<(String, Vec<LinkView>)>> {
    in_read_tx(conn, |conn| {
        let mut seen = HashSet::with_capacity(inbox_ids.len());
        let mut out = Vec::with_capacity(inbox_ids.len());
        for id in inbox_ids {
            if !seen.insert(id.clone()) {
                continue;
            }
            let links = links_by_inbox(conn, &id, include_unverified, limit)?;
            out.push((id, links));
        }
        Ok(out)
    })
}

/// The DID that holds `handle` as its verified handle (hidden accounts excluded).
pub(crate) fn did_by_handle(conn: &Connection, handle: &str) -> rusqlite::Result<Option<Did>> {
    crate::handles::did_by_handle(conn, handle)
}

/// Whether the index knows `did` as a visible account (a link, a handle or account state).
pub(crate) fn actor_known(conn: &Connection, did: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT NOT EXISTS (SELECT 1 FROM accounts WHERE did = ?1 AND active = 0) AND (
            EXISTS (SELECT 1 FROM links WHERE did = ?2)
            OR EXISTS (SELECT 1 FROM unlinked_handles WHERE did = ?2)
            OR EXISTS (SELECT 1 FROM accounts WHERE did = ?1))",
    )?
    .query_row(params![did, did_key(did)], |r| r.get(0))
}

/// The visible links of one status that name `inbox_id`: the first `limit` in DID order,
/// read through the `(inbox_id, status, did)` index so that only returned rows are visited.
fn links_by_inbox_status(
    conn: &Connection,
    inbox_id: &str,
    status: Status,
    limit: usize,
) -> rusqlite::Result<Vec<LinkView>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    rows::collect_good(
        conn.prepare_cached(select_links!(
            "WHERE l.inbox_id = ?1 AND l.status = ?2 AND l.hidden = 0 ORDER BY l.did LIMIT ?3"
        ))?
        .query_map(
            params![encode(Col::Hex, inbox_id), status.code(), limit],
            link_from_row,
        )?,
    )
}

/// The visible links that name `inbox_id`, at most `limit`, in DID order: verified ones
/// only, unless `include_unverified`. Verified links come first when the cap bites (up to
/// `limit` of them), and pending or invalid ones fill what is left in DID order, so that
/// claims anyone can publish never crowd out the links that hold. Every statement is
/// bounded by `limit`, whatever the number of claims on the inbox.
pub(crate) fn links_by_inbox(
    conn: &Connection,
    inbox_id: &str,
    include_unverified: bool,
    limit: usize,
) -> rusqlite::Result<Vec<LinkView>> {
    let mut links = links_by_inbox_status(conn, inbox_id, Status::Verified, limit)?;
    if !include_unverified || links.len() >= limit {
        return Ok(links);
    }
    let left = limit - links.len();
    let mut others = links_by_inbox_status(conn, inbox_id, Status::Pending, left)?;
    others.extend(links_by_inbox_status(
        conn,
        inbox_id,
        Status::Invalid,
        left,
    )?);
    // The index's order: that of the stored DID keys.
    others.sort_by_cached_key(|l| did_key(l.did.as_str()));
    others.truncate(left);
    links.extend(others);
    links.sort_by_cached_key(|l| did_key(l.did.as_str()));
    Ok(links)
}

/// One page of visible links in DID order, after the cursor; a cursor only when more follow.
pub(crate) fn list_links(
    conn: &Connection,
    status: Option<Status>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<(Vec<LinkView>, Option<String>), StoreError> {
    let after = match cursor {
        Some(c) => did_key(&cursor::decode(c)?),
        None => Vec::new(),
    };
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    // A skipped (bad) row still takes its place in the page, so the cursor moves past it.
    let page_row = |row: &Row<'_>| Ok((did_at(row, 0)?, rows::skip_bad(link_from_row(row))?));
    let mut page: Vec<(String, Option<LinkView>)> = match status {
        Some(s) => conn
            .prepare_cached(select_links!(
                "WHERE l.status = ?1 AND l.hidden = 0 AND l.did > ?2 ORDER BY l.did LIMIT ?3"
            ))?
            .query_map(params![s.code(), after, fetch], page_row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(select_links!(
                "WHERE l.hidden = 0 AND l.did > ?1 ORDER BY l.did LIMIT ?2"
            ))?
            .query_map(params![after, fetch], page_row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|(did, _)| cursor::encode(did))
    } else {
        None
    };
    let links = page.into_iter().filter_map(|(_, link)| link).collect();
    Ok((links, next))
}

/// Visible links per status (kept by triggers, so this never scans).
pub(crate) fn counts(conn: &Connection) -> rusqlite::Result<Counts> {
    let mut counts = Counts::default();
    let mut stmt = conn.prepare_cached("SELECT status, n FROM link_counts")?;
    let rows = stmt.query_map([], |r| Ok((status_from(r, 0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (status, n) = row?;
        let n = u64::try_from(n).unwrap_or(0);
        match status {
            Status::Verified => counts.verified = n,
            Status::Pending => counts.pending = n,
            Status::Invalid => counts.invalid = n,
        }
    }
    Ok(counts)
}

/// The persisted firehose cursor and counters.
pub(crate) fn firehose_state(conn: &Connection) -> rusqlite::Result<FirehoseState> {
    conn.prepare_cached(
        "SELECT cursor, frames, commits_verified, commits_rejected FROM firehose_state WHERE id = 1",
    )?
    .query_row([], |r| {
        let n = |i| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
        Ok(FirehoseState {
            cursor: r.get(0)?,
            frames: n(1)?,
            commits_verified: n(2)?,
            commits_rejected: n(3)?,
        })
    })
}

/// The full Sync 1.1 state of a repo, when one has been recorded.
pub(crate) fn repo_state(conn: &Connection, did: &str) -> rusqlite::Result<Option<RepoState>> {
    let row = conn
        .prepare_cached(
            "SELECT rev, data_cid, commit_cid FROM repo_state
         WHERE did = ?1 AND data_cid IS NOT NULL AND commit_cid IS NOT NULL",
        )?
        .query_row([did], |r| {
            const AT: &str = "repo_state";
            Ok(RepoState {
                rev: rows::parse((AT, "rev"), 0, r.get_ref(0)?.as_str()?, Tid::parse)?,
                data_cid: rows::parse((AT, "data_cid"), 1, r.get_ref(1)?.as_str()?, Cid::parse)?,
                commit_cid: rows::parse(
                    (AT, "commit_cid"),
                    2,
                    r.get_ref(2)?.as_str()?,
                    Cid::parse,
                )?,
            })
        })
        .optional();
    rows::skip_bad_opt(row)
}

/// The newest rev seen for a repo (from commit state or from a record change).
pub(crate) fn repo_rev(conn: &Connection, did: &str) -> rusqlite::Result<Option<Tid>> {
    rows::skip_bad_opt(
        conn.prepare_cached("SELECT rev FROM repo_state WHERE did = ?1")?
            .query_row([did], |r| {
                rows::parse(
                    ("repo_state", "rev"),
                    0,
                    r.get_ref(0)?.as_str()?,
                    Tid::parse,
                )
            })
            .optional(),
    )
}

#[cfg(test)]
/// Every DID whose repo the index follows: those with a link or a recorded repo state.
pub(crate) fn tracked_dids(conn: &Connection) -> rusqlite::Result<Vec<Did>> {
    // A scan of the whole table: read it through SQLite's bounded page cache, not the
    // memory map, so that it does not bring the whole file into the process's resident set
    // (808 MiB peak over a 1M-link index in the ingest bench).
    conn.pragma_update(None, "mmap_size", 0)?;
    let out = all_tracked_dids(conn);
    conn.pragma_update(None, "mmap_size", crate::conn::READER_MMAP)?;
    out
}

#[cfg(test)]
fn all_tracked_dids(conn: &Connection) -> rusqlite::Result<Vec<Did>> {
    let mut dids: Vec<Did> = conn
        .prepare_cached("SELECT did FROM links")?
        .query_map([], |r| Ok(Did::parse(&did_at(r, 0)?).unwrap()))?
        .collect::<rusqlite::Result<_>>()?;
    let states = conn
        .prepare_cached("SELECT did FROM repo_state")?
        .query_map([], |r| Ok(Did::parse(r.get_ref(0)?.as_str()?).unwrap()))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    dids.extend(states);
    dids.sort_unstable();
    dids.dedup();
    Ok(dids)
}

/// The link to check of a `did, inbox_id, signature, record_cid, status` row; a
/// [`rows::BadRow`] error when its DID or record CID does not parse.
pub(crate) fn check_item(row: &Row<'_>) -> rusqlite::Result<CheckItem> {
    Ok(CheckItem {
        did: rows::parse(("links", "did"), 0, &did_at(row, 0)?, Did::parse)?,
        inbox_id: text_at(row, 1, Col::Hex)?,
        verification_signature: text_at(row, 2, Col::Base64)?,
        record_cid: rows::parse(
            ("links", "record_cid"),
            3,
            &text_at(row, 3, Col::Cid)?,
            Cid::parse,
        )?,
        status: status_from(row, 4)?,
    })
}

/// Pending links due at `now` (unix s), then verified links verified before `reverify_before`
/// (unix s), `limit` in all.
pub(crate) fn links_to_check(
    conn: &Connection,
    now: i64,
    reverify_before: i64,
    limit: usize,
) -> rusqlite::Result<Vec<CheckItem>> {
    let limit_i = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut out: Vec<CheckItem> = rows::collect_good(
        conn.prepare_cached(
            "SELECT did, inbox_id, signature, record_cid, status FROM links
             WHERE status = 1 AND not_before <= ?1 ORDER BY not_before, did LIMIT ?2",
        )?
        .query_map(params![now, limit_i], check_item)?,
    )?;
    let left = limit.saturating_sub(out.len());
    if left > 0 {
        let mut stmt = conn.prepare_cached(
            "SELECT did, inbox_id, signature, record_cid, status FROM links
             WHERE status = 0 AND verified_at < ?1 ORDER BY verified_at, did LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![
                reverify_before.saturating_mul(1000),
                i64::try_from(left).unwrap_or(i64::MAX)
            ],
            check_item,
        )?;
        let rows = rows::collect_good(rows)?;
        out.extend(rows);
    }
    let left = limit.saturating_sub(out.len());
    if left > 0 {
        // Invalid only for want of a usable inbox (ReasonCode::RECHECKED, the numbers of
        // the partial index links_invalid_recheck): re-checked when their time comes (the
        // verifier sets not_before = verdict time + --reverify-after).
        let mut stmt = conn.prepare_cached(
            "SELECT did, inbox_id, signature, record_cid, status FROM links
             WHERE status = 2 AND reason BETWEEN 3 AND 5
               AND not_before <= ?1
             ORDER BY not_before, did LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![now, i64::try_from(left).unwrap_or(i64::MAX)],
            check_item,
        )?;
        let rows = rows::collect_good(rows)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The verifier's cached state of an inbox.
pub(crate) fn inbox_state(
    conn: &Connection,
    inbox_id: &str,
) -> rusqlite::Result<Option<(u64, Vec<u8>)>> {
    conn.prepare_cached("SELECT last_sequence_id, state FROM xmtp_inboxes WHERE inbox_id = ?1")?
        .query_row([inbox_id], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_links_reads_the_same_columns_as_link_columns() {
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let select = select_links!("");
        assert!(words(select).contains(&words(LINK_COLUMNS)), "{select}");
    }

    #[test]
    fn the_batch_statement_reads_the_slot_then_the_link_columns_after_the_did() {
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let after_did = words(LINK_COLUMNS).replacen("l.did, ", "", 1);
        assert_eq!(
            words(&links_by_keys_sql(2)),
            format!(
                "SELECT k.column1, {after_did} FROM (VALUES (0,?1),(1,?2)) AS k \
                 CROSS JOIN links l ON l.did = k.column2 WHERE l.hidden = 0"
            )
        );
    }

    /// The plan of `sql` on a freshly migrated index, one line per step.
    fn plan(sql: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::conn::open_writer(&dir.path().join("plan.sqlite")).unwrap();
        crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params![vec![1u8; 32], 0, 100], |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn inbox_lookups_seek_the_status_index_and_stop_at_the_limit() {
        let sql = select_links!(
            "WHERE l.inbox_id = ?1 AND l.status = ?2 AND l.hidden = 0 ORDER BY l.did LIMIT ?3"
        );
        let plan = plan(sql);
        // A seek on (inbox_id, status) read in DID order: no sort, so LIMIT stops the scan
        // after the rows it returns, however many other claims name the inbox.
        assert!(
            plan.contains("USING INDEX links_by_inbox (inbox_id=? AND status=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

#[cfg(test)]
mod recheck_tests {
    use crate::reason::ReasonCode;

    #[test]
    fn the_recheck_query_and_index_name_the_rechecked_codes() {
        // The codes are contiguous, so `BETWEEN` (no ephemeral table per statement, unlike
        // an `IN` list of three constants) names exactly them.
        let mut numbers: Vec<i64> = ReasonCode::RECHECKED.iter().map(|c| c.number()).collect();
        numbers.sort_unstable();
        let (lo, hi) = (numbers[0], numbers[numbers.len() - 1]);
        assert_eq!(numbers, (lo..=hi).collect::<Vec<_>>());
        let range = format!("reason BETWEEN {lo} AND {hi}");
        assert!(include_str!("queries.rs").contains(&range), "{range}");
        assert!(
            include_str!("../../../migrations/0012_no_in_lists.sql").contains(&range),
            "{range}"
        );
    }
}
