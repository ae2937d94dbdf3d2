-- 0005_resync_queue: repos whose record state is uncertain, waiting for a proof-checked
-- resync through com.atproto.sync.getRecord. A row exists while a repo is desynchronized
-- (a since/prevData break, an op the signed tree did not prove, a signing key we could not
-- fetch, a #sync with a new root) and is written in the same transaction as the firehose
-- cursor that passed the event, so a restart resumes every pending resync. A row is never
-- dropped for lack of room or attempts: it leaves only when a resync at a rev at least
-- `seen_rev` lands.
CREATE TABLE resync_queue (
    did          TEXT    NOT NULL PRIMARY KEY,
    reason       TEXT    NOT NULL,
    seen_rev     TEXT,              -- highest rev of an event not applied while desynchronized
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,  -- unix ms: not tried before this
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX resync_queue_due ON resync_queue (next_attempt, did);

-- Handles are re-verified every --reverify-after, oldest first.
CREATE INDEX handles_by_age ON handles (updated_at);

-- The queue's length, kept by triggers so getStatus never scans the queue.
CREATE TABLE resync_count (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO resync_count (id, n) VALUES (1, 0);

CREATE TRIGGER resync_count_insert AFTER INSERT ON resync_queue
BEGIN
    UPDATE resync_count SET n = n + 1 WHERE id = 1;
END;

CREATE TRIGGER resync_count_delete AFTER DELETE ON resync_queue
BEGIN
    UPDATE resync_count SET n = n - 1 WHERE id = 1;
END;
