-- 0009_upstream: where a mirror (`run --upstream URL`) stands in its upstream's
-- subscribeLinks stream. The upstream is only a hint of which DIDs to look at: its events
-- queue resyncs (resync_queue), and the seq is written in the same transaction as those
-- rows, so a restart (even after kill -9) resumes without losing a hint. One row per
-- upstream URL; `bootstrapped` says a full listLinks pass was queued while following.
CREATE TABLE upstream_state (
    upstream     TEXT    NOT NULL PRIMARY KEY,
    seq          INTEGER,            -- last subscribeLinks seq whose hint is queued
    bootstrapped INTEGER NOT NULL DEFAULT 0 CHECK (bootstrapped IN (0, 1)),
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
