//! The verifier's second re-check tier (v3 has no push): verified links of recently active
//! accounts, scheduled through `not_before` (migration 0011), and the facts that decide which
//! tier a link belongs to ([`LinkActivity`]).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use syntax::Did;

use crate::compact::{Col, did_key, text_at};
use crate::error::StoreError;
use crate::queries::check_item;
use crate::reader::Reader;
use crate::types::CheckItem;

/// Scheduled verified links due at ?1, at most ?2: reads the partial index
/// links_verified_due in order and stops at the limit.
const ACTIVE_DUE: &str = "SELECT did, inbox_id, signature, record_cid, status FROM links
         WHERE status = 0 AND not_before > 0 AND not_before <= ?1
         ORDER BY not_before, did LIMIT ?2";

fn active_due(conn: &Connection, now: i64, limit: usize) -> rusqlite::Result<Vec<CheckItem>> {
    crate::rows::collect_good(conn.prepare_cached(ACTIVE_DUE)?.query_map(
        params![now, i64::try_from(limit).unwrap_or(i64::MAX)],
        check_item,
    )?)
}

/// What the index knows about how recently a link and its inbox changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkActivity {
    /// The inbox the link's record names.
    pub inbox_id: String,
    /// When the current record was indexed (unix ms), capped by the record's own
    /// `createdAt` when that is an ATProto datetime: a backfilled old record is not new, and
    /// a writer can only make its record look older by lying about `createdAt`, never newer.
    pub record_ms: i64,
    /// When the verifier last wrote the inbox's cached state (unix ms): the first fetch of
    /// its log, or the last time the log grew (`xmtp_inboxes.updated_at`); `None` before.
    pub log_ms: Option<i64>,
}

fn last_activity(conn: &Connection, dids: &[Did]) -> rusqlite::Result<HashMap<Did, LinkActivity>> {
    let mut link = conn.prepare_cached(
        "SELECT inbox_id, MIN(indexed_at,
                CASE typeof(created_at) WHEN 'integer' THEN created_at ELSE indexed_at END)
         FROM links WHERE did = ?1",
    )?;
    let mut inbox =
        conn.prepare_cached("SELECT updated_at FROM xmtp_inboxes WHERE inbox_id = ?1")?;
    let mut out = HashMap::with_capacity(dids.len());
    for did in dids {
        let Some((inbox_id, record_ms)) = link
            .query_row([did_key(did.as_str())], |r| {
                Ok((text_at(r, 0, Col::Hex)?, r.get::<_, i64>(1)?))
            })
            .optional()?
        else {
            continue;
        };
        let log_ms = inbox.query_row([&inbox_id], |r| r.get(0)).optional()?;
        out.insert(
            did.clone(),
            LinkActivity {
                inbox_id,
                record_ms,
                log_ms,
            },
        );
    }
    Ok(out)
}

impl Reader {
    /// Verified links scheduled for an active-tier re-check (`not_before` > 0) and due at
    /// `now` (unix s), longest due first, at most `limit`. Reads only due rows.
    pub async fn active_links_due(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<CheckItem>, StoreError> {
        self.run(move |c| Ok(active_due(c, now, limit)?)).await
    }

    /// The [`LinkActivity`] of each of `dids` that has a link; two primary-key probes per
    /// DID in one read transaction.
    pub async fn last_activity(
        &self,
        dids: Vec<Did>,
    ) -> Result<HashMap<Did, LinkActivity>, StoreError> {
        self.run(move |c| {
            let tx = c.unchecked_transaction()?;
            let out = last_activity(&tx, &dids)?;
            tx.finish()?;
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::LinkActivity;
    use crate::tests::{Db, cid, did, inbox, put, verdict};
    use crate::{Change, RecordInput, Status};

    fn retry(n: u32, label: &str, not_before: i64) -> Change {
        Change::RetryLater {
            did: did(n),
            record_cid: cid(label),
            not_before,
        }
    }

    #[tokio::test]
    async fn only_scheduled_verified_links_are_due_in_schedule_order() {
        let db = Db::new();
        let mut changes = Vec::new();
        for n in 1..=4 {
            changes.push(put(&did(n), &format!("bafy{n}"), &inbox(n), None));
        }
        // 1, 2 verified and scheduled; 3 verified, not scheduled (dormant); 4 pending with a
        // retry time (the pending queue's, not this one's).
        changes.extend([
            verdict(&did(1), "bafy1", Status::Verified),
            verdict(&did(2), "bafy2", Status::Verified),
            verdict(&did(3), "bafy3", Status::Verified),
            retry(1, "bafy1", 200),
            retry(2, "bafy2", 100),
            retry(4, "bafy4", 50),
        ]);
        db.apply(changes).await;
        let r = db.r();
        assert!(r.active_links_due(99, 10).await.unwrap().is_empty());
        let due = |v: Vec<crate::CheckItem>| v.into_iter().map(|c| c.did).collect::<Vec<_>>();
        assert_eq!(due(r.active_links_due(150, 10).await.unwrap()), [did(2)]);
        assert_eq!(
            due(r.active_links_due(1_000, 10).await.unwrap()),
            [did(2), did(1)]
        );
        assert_eq!(due(r.active_links_due(1_000, 1).await.unwrap()), [did(2)]);
        // A new verdict (re-check) clears the schedule until the verifier sets it again.
        db.apply(vec![verdict(&did(2), "bafy2", Status::Verified)])
            .await;
        assert_eq!(due(r.active_links_due(1_000, 10).await.unwrap()), [did(1)]);
    }

    #[tokio::test]
    async fn activity_is_the_record_capped_by_created_at_and_the_inbox_log() {
        let db = Db::new();
        let old = RecordInput {
            cid: cid("bafyold"),
            inbox_id: inbox(1),
            verification_signature: "c2lnbmF0dXJl".into(),
            // An ATProto datetime (stored as unix ms): caps the indexing time.
            created_at: "2020-01-01T00:00:00.000Z".into(),
            malformed: None,
        };
        let odd = RecordInput {
            cid: cid("bafyodd"),
            inbox_id: inbox(2),
            // Not the canonical form: the indexing time stands alone.
            created_at: "2020-01-01T00:00:00Z".into(),
            ..old.clone()
        };
        db.apply(vec![
            Change::PutRecord {
                did: did(1),
                rev: None,
                record: old,
            },
            Change::PutRecord {
                did: did(2),
                rev: None,
                record: odd,
            },
        ])
        .await;
        let r = db.r();
        let before = crate::now_millis();
        let got = r.last_activity(vec![did(1), did(2), did(3)]).await.unwrap();
        let expected = LinkActivity {
            inbox_id: inbox(1),
            record_ms: 1_577_836_800_000,
            log_ms: None,
        };
        assert_eq!(got[&did(1)], expected, "createdAt caps indexed_at");
        let indexed = got[&did(2)].record_ms;
        assert!(indexed > before - 60_000 && indexed <= before, "{indexed}");
        assert!(!got.contains_key(&did(3)), "no link, no entry");
        // The inbox's log moves: that is activity of every link naming it.
        db.apply(vec![Change::InboxState {
            inbox_id: inbox(1),
            last_sequence_id: 7,
            state: vec![1],
        }])
        .await;
        let got = r.last_activity(vec![did(1)]).await.unwrap();
        assert!(got[&did(1)].log_ms >= Some(before), "{got:?}");
    }

    #[test]
    fn the_due_query_reads_only_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::conn::open_writer(&dir.path().join("plan.sqlite")).unwrap();
        crate::migrate::migrate(&mut conn, crate::MIGRATIONS).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", super::ACTIVE_DUE))
            .unwrap()
            .query_map(rusqlite::params![1, 10], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let plan = plan.join("\n");
        assert!(plan.contains("links_verified_due"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
