-- 0010_handles_once: each verified handle is stored once.
--
-- Before, every handle was in `handles` (keyed by the DID as text, with a unique index on
-- the handle and an index by age) and copied onto its link: about 200 bytes per handle.
-- Now the handle of a DID that has a link lives on the link only (`handle`, and
-- `handle_at`, when it was last verified both ways); `unlinked_handles` holds the handles
-- of DIDs without a link, keyed by the same 16-byte DID key as `links`. A DID's handle is in
-- exactly one of the two places, and a handle belongs to at most one DID across both (the
-- writer moves a handle with its link: see crates/store/src/apply.rs).
--
-- The `handles` table is the truth being converted (the writer kept links.handle in step
-- with it). `links` is rebuilt in DID order (as in 0008), so its pages are full.

CREATE TABLE links_new (
    did              BLOB    NOT NULL PRIMARY KEY,
    inbox_id         BLOB    NOT NULL,
    record_cid       BLOB    NOT NULL,
    signature        BLOB    NOT NULL,
    created_at       BLOB    NOT NULL,
    status           INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
    reason           BLOB,
    installation_key BLOB,
    verified_at      INTEGER,
    indexed_at       INTEGER NOT NULL,
    not_before       INTEGER NOT NULL DEFAULT 0, -- unix seconds: no verifier attempt before this
    hidden           INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    handle           TEXT,    -- the verified handle (lowercase), NULL when none
    handle_at        INTEGER, -- unix ms: when `handle` was last verified; NULL iff handle is
    CHECK ((handle IS NULL) = (handle_at IS NULL))
) WITHOUT ROWID;

-- did_text() renders a stored DID key back to the DID (registered by the store with the
-- compact_* functions), so each link probes `handles` by its primary key.
INSERT INTO links_new
SELECT l.did, l.inbox_id, l.record_cid, l.signature, l.created_at, l.status, l.reason,
       l.installation_key, l.verified_at, l.indexed_at, l.not_before, l.hidden,
       h.handle, h.updated_at
FROM links l LEFT JOIN handles h ON h.did = did_text(l.did)
ORDER BY l.did;

CREATE TABLE unlinked_handles (
    did        BLOB    NOT NULL PRIMARY KEY, -- the DID key, as links.did
    handle     TEXT    NOT NULL UNIQUE,
    updated_at INTEGER NOT NULL              -- unix ms: when it was last verified
) WITHOUT ROWID;

INSERT INTO unlinked_handles (did, handle, updated_at)
SELECT compact_did(h.did), h.handle, h.updated_at FROM handles h
WHERE NOT EXISTS (SELECT 1 FROM links_new l WHERE l.did = compact_did(h.did))
ORDER BY 1;

-- Dropping a table drops its indexes and triggers; the links ones are recreated below.
DROP TABLE handles;
DROP TABLE links;
ALTER TABLE links_new RENAME TO links;

-- As in 0008: inbox lookups, status listings, the verifier's queue.
CREATE INDEX links_by_inbox ON links (inbox_id, status, did) WHERE hidden = 0;
CREATE INDEX links_by_status ON links (status, did) WHERE hidden = 0;
CREATE INDEX links_pending_due ON links (not_before, did) WHERE status = 1;
CREATE INDEX links_verified_age ON links (verified_at, did) WHERE status = 0;
CREATE INDEX links_invalid_recheck ON links (not_before, did)
    WHERE status = 2 AND reason IN (3, 4, 5);
-- handle -> DID (resolveActor by handle, the takeover check), and the handle sweep's
-- oldest-first order.
CREATE UNIQUE INDEX links_by_handle ON links (handle) WHERE handle IS NOT NULL;
CREATE INDEX links_handle_age ON links (handle_at, did) WHERE handle_at IS NOT NULL;
CREATE INDEX unlinked_handles_by_age ON unlinked_handles (updated_at, did);

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
