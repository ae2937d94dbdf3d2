//! The outbox of `subscribeLinks`: every visible change of a link view becomes one row of
//! `link_events`, written inside the transaction of the change that caused it.
//!
//! The writer takes a [`Snapshot`] of the link of every DID a change can touch before and
//! after applying it, and [`record`] compares the two: nothing visible changed, no row. The
//! views come from the query code every method serves ([`crate::queries::link_from_row`]),
//! so an event carries exactly what `resolveActor` would have answered at that moment.

use std::sync::LazyLock;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::StoreError;
use crate::queries::{LINK_COLUMNS, link_from_row};
use crate::reader::Reader;
use crate::time::{format_unix_millis, now_millis};
use crate::types::{Batch, Change, LinkView, Status};
use crate::writer::Writer;

/// What happened to a link, as named in the event's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A link appeared (a new record of a visible account).
    Created,
    /// The record changed, or another visible field of the view (handle, reason).
    Updated,
    /// The link became verified, or was verified again with other evidence (another
    /// installation key). A re-check that only confirms it (a newer `verifiedAt`, nothing
    /// else) makes no event.
    Verified,
    /// The link was found invalid.
    Invalidated,
    /// The account went inactive: the link is hidden from queries.
    Hidden,
    /// The account is active again: the link is served again.
    Shown,
    /// The record or the account was deleted.
    Removed,
}

impl EventKind {
    /// The name used in SQL and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Updated => "updated",
            EventKind::Verified => "verified",
            EventKind::Invalidated => "invalidated",
            EventKind::Hidden => "hidden",
            EventKind::Shown => "shown",
            EventKind::Removed => "removed",
        }
    }

    fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "created" => EventKind::Created,
            "updated" => EventKind::Updated,
            "verified" => EventKind::Verified,
            "invalidated" => EventKind::Invalidated,
            "hidden" => EventKind::Hidden,
            "shown" => EventKind::Shown,
            "removed" => EventKind::Removed,
            _ => return None,
        })
    }
}

/// One retained change of a link, as `subscribeLinks` sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkEvent {
    /// Strictly increasing, never reused.
    pub seq: i64,
    /// When the change was committed (atproto datetime).
    pub time: String,
    /// What happened.
    pub kind: EventKind,
    /// The account DID.
    pub did: String,
    /// The link view after the change; `None` for [`EventKind::Removed`].
    pub link: Option<LinkView>,
}

/// The link of one DID at one moment: absent, or its view and whether it is hidden.
pub(crate) type Snapshot = Option<(bool, LinkView)>;

static SNAPSHOT_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {LINK_COLUMNS}, l.hidden FROM links l WHERE l.did = ?1"));

/// The snapshot of `did`, and whether it has a row at all: a row whose identifiers do not
/// parse reads as no link (skipped, logged and counted), so that it never fails the batch
/// that touches it, but it is still a row (a `PutRecord` updates it, never inserts).
fn snapshot(conn: &Connection, did: &str) -> rusqlite::Result<(bool, Snapshot)> {
    let row = conn
        .prepare_cached(&SNAPSHOT_SQL)?
        .query_row([crate::compact::did_key(did)], |row| {
            Ok((row.get::<_, bool>(11)?, link_from_row(row)?))
        })
        .optional();
    match crate::rows::skip_bad(row)? {
        Some(snap) => Ok((snap.is_some(), snap)),
        None => Ok((true, None)),
    }
}

/// What [`before`] saw: each DID `change` can alter with its link, and whether the first of
/// them has a `links` row (readable or not).
#[derive(Debug)]
pub(crate) struct Before {
    pub(crate) watched: Vec<(String, Snapshot)>,
    pub(crate) first_has_row: bool,
}

/// The DIDs whose link `change` can alter, with their link before it is applied.
pub(crate) fn before(conn: &Connection, change: &Change) -> rusqlite::Result<Before> {
    let mut dids: Vec<&str> = Vec::with_capacity(2);
    let previous_owner;
    match change {
        // An account status moves the view only when it deletes the link or flips its
        // hidden flag (the view is the link row alone): most status changes of a bulk load
        // confirm an active account, and cost one probe instead of two snapshots.
        Change::AccountStatus {
            did,
            active,
            status,
        } if status.as_deref() != Some("deleted") => {
            let flips = conn
                .prepare_cached("SELECT 1 FROM links WHERE did = ?1 AND hidden != ?2")?
                .exists(params![crate::compact::did_key(did.as_str()), !active])?;
            if flips {
                dids.push(did.as_str());
            }
        }
        Change::PutRecord { did, .. }
        | Change::DeleteRecord { did, .. }
        | Change::AccountStatus { did, .. }
        | Change::Verdict { did, .. } => dids.push(did.as_str()),
        Change::Handle { did, handle } => {
            dids.push(did.as_str());
            // A handle taken over is cleared from its previous owner's link too.
            previous_owner = match handle {
                Some(h) => crate::handles::holder_other_than(conn, h.as_str(), did.as_str())?,
                None => None,
            };
            if let Some(prev) = &previous_owner {
                dids.push(prev);
            }
        }
        Change::RepoState { .. }
        | Change::RetryLater { .. }
        | Change::InboxState { .. }
        | Change::Backfill(_)
        | Change::Resync(_)
        | Change::PruneLinkEvents { .. }
        | Change::Upstream { .. } => {}
    }
    let mut out = Before {
        watched: Vec::with_capacity(dids.len()),
        first_has_row: false,
    };
    for (i, did) in dids.into_iter().enumerate() {
        let (has_row, snap) = snapshot(conn, did)?;
        if i == 0 {
            out.first_has_row = has_row;
        }
        out.watched.push((did.to_owned(), snap));
    }
    Ok(out)
}

/// Writes one event per DID of `watched` whose link changed visibly since [`before`] (into
/// `events`, which the caller flushes before its transaction ends).
pub(crate) fn record(
    conn: &Connection,
    watched: Vec<(String, Snapshot)>,
    now_ms: i64,
    events: &mut PendingEvents,
) -> rusqlite::Result<()> {
    for (did, old) in watched {
        if old.is_none() {
            // A new link (most writes of a bulk load): its view, if visible, is written as
            // JSON straight from the row, as resolveActor does, without a LinkView.
            if let Some(view) = created_view(conn, &did)? {
                events.push(conn, now_ms, EventKind::Created, did, Some(view))?;
            }
            continue;
        }
        let (_, new) = snapshot(conn, &did)?;
        let Some(kind) = kind_of(old.as_ref(), new.as_ref()) else {
            continue;
        };
        let view = match (&new, kind) {
            (_, EventKind::Removed) | (None, _) => None,
            (Some((_, view)), _) => Some(
                serde_json::to_string(view)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
            ),
        };
        events.push(conn, now_ms, kind, did, view)?;
    }
    Ok(())
}

/// Events inserted by one statement: SQLite reads and writes `sqlite_sequence` (the
/// `AUTOINCREMENT` of `seq`) once per statement, and each statement run has its own cost.
const EVENTS_PER_INSERT: usize = 32;

/// `OR FAIL`: a statement that writes several rows under the default `OR ABORT` makes
/// SQLite keep a statement journal (a copy of each page it touches) to undo a half-done
/// statement; any failure here fails the batch, whose transaction is rolled back whole.
static INSERT_EVENTS_SQL: LazyLock<String> = LazyLock::new(|| {
    let rows = vec!["(?, ?, ?, ?)"; EVENTS_PER_INSERT].join(", ");
    format!("INSERT OR FAIL INTO link_events (time, kind, did, view) VALUES {rows}")
});

/// Events of the batch being applied that are not inserted yet, in order. They are
/// inserted [`EVENTS_PER_INSERT`] to a statement; [`PendingEvents::flush`] writes the rest
/// and must run before the transaction commits (and before anything reads `link_events`).
#[derive(Debug, Default)]
pub(crate) struct PendingEvents {
    rows: Vec<(i64, EventKind, String, Option<String>)>,
}

impl PendingEvents {
    fn push(
        &mut self,
        conn: &Connection,
        now_ms: i64,
        kind: EventKind,
        did: String,
        view: Option<String>,
    ) -> rusqlite::Result<()> {
        self.rows.push((now_ms, kind, did, view));
        if self.rows.len() >= EVENTS_PER_INSERT {
            self.flush(conn)?;
        }
        Ok(())
    }

    /// Inserts every pending event, in order (seqs follow it).
    pub(crate) fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.rows.len() == EVENTS_PER_INSERT {
            let mut stmt = conn.prepare_cached(&INSERT_EVENTS_SQL)?;
            for (i, (time, kind, did, view)) in self.rows.iter().enumerate() {
                stmt.raw_bind_parameter(4 * i + 1, time)?;
                stmt.raw_bind_parameter(4 * i + 2, kind.as_str())?;
                stmt.raw_bind_parameter(4 * i + 3, did)?;
                stmt.raw_bind_parameter(4 * i + 4, view)?;
            }
            stmt.raw_execute()?;
        } else {
            for (time, kind, did, view) in &self.rows {
                insert_event(conn, *time, *kind, did, view.as_deref())?;
            }
        }
        self.rows.clear();
        Ok(())
    }
}

fn insert_event(
    conn: &Connection,
    now_ms: i64,
    kind: EventKind,
    did: &str,
    view: Option<&str>,
) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO link_events (time, kind, did, view) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![now_ms, kind.as_str(), did, view])?;
    Ok(())
}

/// The view of `did`'s link as JSON when it exists and is visible: the event of a link that
/// did not exist before the change ([`kind_of`]: `created`, or nothing while hidden).
fn created_view(conn: &Connection, did: &str) -> rusqlite::Result<Option<String>> {
    let mut stmt = conn.prepare_cached(&SNAPSHOT_SQL)?;
    let mut rows = stmt.query([crate::compact::did_key(did)])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    if row.get::<_, bool>(11)? {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(768);
    crate::json::write_link(row, &mut out)?;
    String::from_utf8(out)
        .map(Some)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The event a change from `old` to `new` makes, if any. Changes while hidden are not seen
/// (the `shown` event carries the view of that moment).
pub(crate) fn kind_of(
    old: Option<&(bool, LinkView)>,
    new: Option<&(bool, LinkView)>,
) -> Option<EventKind> {
    match (old, new) {
        (None, None) | (None, Some((true, _))) => None,
        (Some(_), None) => Some(EventKind::Removed),
        (None, Some((false, _))) => Some(EventKind::Created),
        (Some((true, _)), Some((true, _))) => None,
        (Some((false, _)), Some((true, _))) => Some(EventKind::Hidden),
        (Some((true, _)), Some((false, _))) => Some(EventKind::Shown),
        (Some((false, a)), Some((false, b))) => {
            if a == b || only_reconfirmed(a, b) {
                None
            } else if a.record != b.record || a.inbox_id != b.inbox_id {
                Some(EventKind::Updated)
            } else if b.status == Status::Verified
                && (a.status != Status::Verified
                    || a.verified_at != b.verified_at
                    || a.installation_key != b.installation_key)
            {
                // New evidence is `verified` even within the millisecond of the last check
                // (same verifiedAt), not `updated`.
                Some(EventKind::Verified)
            } else if b.status == Status::Invalid && a.status != Status::Invalid {
                Some(EventKind::Invalidated)
            } else {
                Some(EventKind::Updated)
            }
        }
    }
}

/// Whether `b` is `a` re-checked and confirmed: every field equal but `verified_at`. Such
/// re-checks run every `--reverify-after` for every link (and every few minutes for active
/// ones); an event each would fill the outbox with copies (about 600 B each) that tell a
/// consumer nothing it could act on.
fn only_reconfirmed(a: &LinkView, b: &LinkView) -> bool {
    // Destructured so that a new field of the view must be considered here.
    let LinkView {
        did,
        handle,
        inbox_id,
        status,
        reason,
        record,
        installation_key,
        verified_at: _,
        indexed_at,
    } = a;
    *did == b.did
        && *handle == b.handle
        && *inbox_id == b.inbox_id
        && *status == b.status
        && *reason == b.reason
        && *record == b.record
        && *installation_key == b.installation_key
        && *indexed_at == b.indexed_at
}

/// The highest seq ever handed out (0 before the first event), pruned or not.
pub(crate) fn latest_seq(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'link_events'")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Deletes events up to `up_to_seq` that are older than `before_ms`.
pub(crate) fn prune(conn: &Connection, up_to_seq: i64, before_ms: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM link_events WHERE seq <= ?1 AND time < ?2")?
        .execute([up_to_seq, before_ms])?;
    Ok(())
}

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LinkEvent> {
    let kind: String = row.get(2)?;
    let kind = EventKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            2,
            rusqlite::types::Type::Text,
            format!("unknown link event kind {kind:?}").into(),
        )
    })?;
    let view: Option<String> = row.get(4)?;
    let link = view
        .map(|v| serde_json::from_str::<LinkView>(&v))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
        })?;
    Ok(LinkEvent {
        seq: row.get(0)?,
        time: format_unix_millis(row.get(1)?),
        kind,
        did: row.get(3)?,
        link,
    })
}

/// The retained window: the oldest retained seq (`None` when nothing is retained) and the
/// latest seq ever handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventWindow {
    /// The oldest seq still in the outbox.
    pub oldest: Option<i64>,
    /// The latest seq handed out (0 before the first).
    pub latest: i64,
}

impl Reader {
    /// Up to `limit` retained events with a seq above `after`, in seq order.
    pub async fn link_events_after(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<LinkEvent>, StoreError> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, time, kind, did, view FROM link_events
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after, limit as i64], event_from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// The retained window of the outbox.
    pub async fn link_event_window(&self) -> Result<EventWindow, StoreError> {
        self.run(|c| {
            let tx = c.unchecked_transaction()?;
            let oldest = tx
                .prepare_cached("SELECT min(seq) FROM link_events")?
                .query_row([], |r| r.get(0))?;
            let latest = latest_seq(&tx)?;
            tx.finish()?;
            Ok(EventWindow { oldest, latest })
        })
        .await
    }

    /// The seq and time of the `n`-th oldest retained event (0-based), if there are so many.
    async fn nth_link_event(&self, n: usize) -> Result<Option<(i64, i64)>, StoreError> {
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT seq, time FROM link_events ORDER BY seq LIMIT 1 OFFSET ?1",
            )?
            .query_row([n as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
        })
        .await
    }
}

/// Events deleted per prune batch: small, so the writer is never held up for long.
const PRUNE_BATCH: usize = 1_000;

/// Prunes the outbox to `retention` every `every` until `stop` resolves: whole batches of
/// 1,000 back to back while they are all expired, then the expired part of the
/// next one.
pub async fn prune_link_events(
    writer: Writer,
    reader: Reader,
    retention: Duration,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    loop {
        if let Err(e) = prune_once(&writer, &reader, retention_ms).await {
            tracing::warn!(error = %e, "pruning the link events failed; retrying later");
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

async fn prune_once(writer: &Writer, reader: &Reader, retention_ms: i64) -> Result<(), StoreError> {
    let before_ms = now_millis().saturating_sub(retention_ms);
    loop {
        let Some((seq, time)) = reader.nth_link_event(PRUNE_BATCH - 1).await? else {
            // Fewer than a batch: prune whatever of them expired.
            let change = Change::PruneLinkEvents {
                up_to_seq: i64::MAX,
                before_ms,
            };
            return writer.apply(Batch::of(vec![change])).await;
        };
        let change = Change::PruneLinkEvents {
            up_to_seq: seq,
            before_ms,
        };
        writer.apply(Batch::of(vec![change])).await?;
        if time >= before_ms {
            return Ok(());
        }
    }
}
