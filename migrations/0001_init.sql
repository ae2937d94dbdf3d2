-- 0001_init: the first schema of the xmtp-appview index.
-- Applied once, in one transaction, and recorded in schema_migrations by the store crate.
-- Pragmas (WAL, foreign_keys, busy_timeout, synchronous) are set per connection in Rust,
-- never here. Times are unix milliseconds unless the column name says otherwise.

-- One row per DID that holds an org.xmtp.inbox/self record (the record key is always `self`,
-- so the DID is the key). `hidden` mirrors accounts.active = 0 so that every query can filter
-- hidden accounts through the same indexes.
CREATE TABLE links (
    did              TEXT    NOT NULL PRIMARY KEY,
    inbox_id         TEXT    NOT NULL,
    record_cid       TEXT    NOT NULL,
    signature        TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('verified', 'pending', 'invalid')),
    reason           TEXT,
    installation_key TEXT,
    verified_at      INTEGER,
    indexed_at       INTEGER NOT NULL,
    not_before       INTEGER NOT NULL DEFAULT 0, -- unix seconds: no verifier attempt before this
    hidden           INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1))
) WITHOUT ROWID;

-- inbox -> DIDs (resolveInbox / resolveInboxes).
CREATE INDEX links_by_inbox ON links (inbox_id, did) WHERE hidden = 0;
-- listLinks with a status filter, in DID order (status = all walks the primary key).
CREATE INDEX links_by_status ON links (status, did) WHERE hidden = 0;
-- links_to_check: pending links that are due, and verified links due for re-verification.
CREATE INDEX links_pending_due ON links (not_before) WHERE status = 'pending';
CREATE INDEX links_verified_age ON links (verified_at) WHERE status = 'verified';

-- Account state from #account events. Rows exist only for accounts we were told about.
CREATE TABLE accounts (
    did        TEXT    NOT NULL PRIMARY KEY,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    status     TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Handles verified both ways (handle -> DID and DID document -> handle). A handle belongs to
-- at most one DID: the writer drops an older claim when a newer DID verifies the handle.
CREATE TABLE handles (
    did        TEXT    NOT NULL PRIMARY KEY,
    handle     TEXT    NOT NULL UNIQUE,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Sync 1.1 state per tracked repo. `rev` is also bumped by record changes that carry a rev,
-- so that an older commit arriving late never overwrites a newer one; the CIDs are NULL until
-- a full commit state has been recorded.
CREATE TABLE repo_state (
    did        TEXT NOT NULL PRIMARY KEY,
    rev        TEXT NOT NULL,
    data_cid   TEXT,
    commit_cid TEXT
) WITHOUT ROWID;

-- The firehose position and counters: exactly one row, id = 1.
CREATE TABLE firehose_state (
    id               INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    cursor           INTEGER,
    frames           INTEGER NOT NULL DEFAULT 0,
    commits_verified INTEGER NOT NULL DEFAULT 0,
    commits_rejected INTEGER NOT NULL DEFAULT 0
);
INSERT INTO firehose_state (id) VALUES (1);

-- The verifier's cached XMTP inbox states (opaque to the store).
CREATE TABLE xmtp_inboxes (
    inbox_id         TEXT    NOT NULL PRIMARY KEY,
    last_sequence_id INTEGER NOT NULL,
    state            BLOB    NOT NULL,
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- Visible link counts per status, kept by triggers so getStatus never scans the table.
CREATE TABLE link_counts (
    status TEXT    NOT NULL PRIMARY KEY,
    n      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO link_counts (status, n) VALUES ('verified', 0), ('pending', 0), ('invalid', 0);

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
