-- 0008_compact: the links table in binary, about a third of its former size.
--
-- Values are converted in place by the store's codecs (registered as SQL functions on the
-- writer connection, see crates/store/src/compact.rs): a value is stored in binary only when
-- it renders back to the very string it was, otherwise as that text, so link views are
-- unchanged byte for byte.
--   did               a did:plc as 16 bytes (tag 0x01 + its 24 base32 symbols packed in
--                     rank order, so keys sort like the text), any other DID as its bytes;
--   inbox_id, installation_key   lower-case hex as bytes (32 for an inbox ID);
--   record_cid        multibase base32 (`b...`) as the CID's bytes;
--   signature         standard padded base64 as bytes (64 for an Ed25519 signature);
--   created_at        a `YYYY-MM-DDTHH:MM:SS.mmmZ` datetime as unix milliseconds;
--   status            0 verified, 1 pending, 2 invalid (0 and 1 cost no byte in a record);
--   reason            a store::ReasonCode number, or free text (a malformed record's).
-- BLOB-declared columns have no affinity: SQLite keeps whichever form was written.
-- The table is rebuilt in DID order, so its pages are full.

CREATE TABLE links_compact (
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
    handle           TEXT
) WITHOUT ROWID;

INSERT INTO links_compact
SELECT compact_did(did), compact_hex(inbox_id), compact_cid(record_cid),
       compact_b64(signature), compact_time(created_at),
       CASE status WHEN 'verified' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,
       compact_reason(reason), compact_hex(installation_key), verified_at, indexed_at,
       not_before, hidden, handle
FROM links ORDER BY 1;

-- Dropping the table drops its indexes and triggers; all are recreated below.
DROP TABLE links;
ALTER TABLE links_compact RENAME TO links;

-- inbox -> DIDs, one status at a time, in DID order (resolveInbox / resolveInboxes).
CREATE INDEX links_by_inbox ON links (inbox_id, status, did) WHERE hidden = 0;
-- listLinks with a status filter, in DID order (status = all walks the primary key).
CREATE INDEX links_by_status ON links (status, did) WHERE hidden = 0;
-- The verifier's queue (see 0004): pending links due, verified links by age, and invalid
-- links whose reason says the XMTP side was not usable: inbox_not_found (3),
-- inbox_state_invalid (4), inbox_id_mismatch (5) — ReasonCode::RECHECKED.
CREATE INDEX links_pending_due ON links (not_before, did) WHERE status = 1;
CREATE INDEX links_verified_age ON links (verified_at, did) WHERE status = 0;
CREATE INDEX links_invalid_recheck ON links (not_before, did)
    WHERE status = 2 AND reason IN (3, 4, 5);

-- Visible link counts per status (0 verified, 1 pending, 2 invalid), kept by triggers.
DROP TABLE link_counts;
CREATE TABLE link_counts (
    status INTEGER NOT NULL PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO link_counts (status, n)
SELECT s.status, (SELECT COUNT(*) FROM links l WHERE l.status = s.status AND l.hidden = 0)
FROM (SELECT 0 AS status UNION ALL SELECT 1 UNION ALL SELECT 2) s;

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
