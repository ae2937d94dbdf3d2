-- 0012_no_in_lists: the same `links` and `backfill_repos`, without `IN (…)` lists on the
-- write path.
--
-- SQLite evaluates an `IN` list of three or more constants by building an ephemeral table,
-- once per statement that evaluates it: every `INSERT`/`UPDATE` of a link paid for one for
-- `CHECK (status IN (0, 1, 2))` (10-15 % of a bulk link insert), every backfill state
-- change for `CHECK (state IN ('pending', 'indexed', 'absent', 'failed'))`. The checks are
-- now `OR` chains, which accept exactly the same values; the partial index of invalid
-- links re-checked for want of a usable inbox says `reason BETWEEN 3 AND 5`, the codes of
-- ReasonCode::RECHECKED (inbox_not_found 3, inbox_state_invalid 4, inbox_id_mismatch 5; a
-- test keeps them contiguous): reasons are written as integer codes or as text, and text
-- sorts after every number, so it matches the same rows as `reason IN (3, 4, 5)`.
--
-- Columns, indexes and counting triggers are otherwise those of 0010 and 0011 (each index is still
-- read by a query: ARCHITECTURE.md, "The `links` table's layout"). The table is rebuilt in
-- DID order, so its pages are full, and the store vacuums once after converting a populated
-- index (crates/store/src/migrate.rs).

CREATE TABLE links_new (
    did              BLOB    NOT NULL PRIMARY KEY,
    inbox_id         BLOB    NOT NULL,
    record_cid       BLOB    NOT NULL,
    signature        BLOB    NOT NULL,
    created_at       BLOB    NOT NULL,
    status           INTEGER NOT NULL CHECK (status = 0 OR status = 1 OR status = 2),
    reason           BLOB,
    installation_key BLOB,
    verified_at      INTEGER,
    indexed_at       INTEGER NOT NULL,
    not_before       INTEGER NOT NULL DEFAULT 0, -- unix seconds: no verifier attempt before this
    hidden           INTEGER NOT NULL DEFAULT 0 CHECK (hidden = 0 OR hidden = 1),
    handle           TEXT,    -- the verified handle (lowercase), NULL when none
    handle_at        INTEGER, -- unix ms: when `handle` was last verified; NULL iff handle is
    CHECK ((handle IS NULL) = (handle_at IS NULL))
) WITHOUT ROWID;

INSERT INTO links_new SELECT * FROM links ORDER BY did;

-- Dropping a table drops its indexes and triggers; all are recreated below.
DROP TABLE links;
ALTER TABLE links_new RENAME TO links;

-- inbox -> DIDs, one status at a time, in DID order (resolveInbox / resolveInboxes).
CREATE INDEX links_by_inbox ON links (inbox_id, status, did) WHERE hidden = 0;
-- listLinks with a status filter, in DID order (status = all walks the primary key).
CREATE INDEX links_by_status ON links (status, did) WHERE hidden = 0;
-- The verifier's queues: pending links due; dormant verified links by age; active verified
-- links by their scheduled re-check (0011); invalid links whose reason says the XMTP side
-- was not usable (ReasonCode::RECHECKED).
CREATE INDEX links_pending_due ON links (not_before, did) WHERE status = 1;
CREATE INDEX links_verified_age ON links (verified_at, did) WHERE status = 0;
CREATE INDEX links_verified_due ON links (not_before, did) WHERE status = 0 AND not_before > 0;
CREATE INDEX links_invalid_recheck ON links (not_before, did)
    WHERE status = 2 AND reason BETWEEN 3 AND 5;
-- handle -> DID (resolveActor by handle, the takeover check), and the handle sweep's
-- oldest-first order.
CREATE UNIQUE INDEX links_by_handle ON links (handle) WHERE handle IS NOT NULL;
CREATE INDEX links_handle_age ON links (handle_at, did) WHERE handle_at IS NOT NULL;

-- The visible-link counters (link_counts is unchanged: same rows, same statuses).
CREATE TRIGGER links_count_insert AFTER INSERT ON links WHEN NEW.hidden = 0
BEGIN
    UPDATE link_counts SET n = n + 1 WHERE status = NEW.status;
END;

CREATE TRIGGER links_count_delete AFTER DELETE ON links WHEN OLD.hidden = 0
BEGIN
    UPDATE link_counts SET n = n - 1 WHERE status = OLD.status;
END;

CREATE TRIGGER links_count_update AFTER UPDATE OF status, hidden ON links
WHEN OLD.status IS NOT NEW.status OR OLD.hidden IS NOT NEW.hidden
BEGIN
    UPDATE link_counts SET n = n - 1 WHERE status = OLD.status AND OLD.hidden = 0;
    UPDATE link_counts SET n = n + 1 WHERE status = NEW.status AND NEW.hidden = 0;
END;

-- A new link takes its DID's handle from `unlinked_handles` (the writer's INSERT reads it
-- there, crates/store/src/apply.rs); the handle leaves that table in the same statement, so
-- the insert of a link without a handle (nearly every insert of a bulk load) runs no
-- separate DELETE.
CREATE TRIGGER links_take_handle AFTER INSERT ON links WHEN NEW.handle IS NOT NULL
BEGIN
    DELETE FROM unlinked_handles WHERE did = NEW.did;
END;

-- The backfill's progress, as in 0003.
CREATE TABLE backfill_repos_new (
    did        TEXT    NOT NULL PRIMARY KEY,
    state      TEXT    NOT NULL CHECK (state = 'pending' OR state = 'indexed'
                                       OR state = 'absent' OR state = 'failed'),
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO backfill_repos_new SELECT * FROM backfill_repos ORDER BY did;
DROP TABLE backfill_repos;
ALTER TABLE backfill_repos_new RENAME TO backfill_repos;

-- The work list of a resumed pass, in DID order (two constants: no ephemeral table).
CREATE INDEX backfill_repos_todo ON backfill_repos (did) WHERE state IN ('pending', 'failed');
