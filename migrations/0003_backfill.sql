-- 0003_backfill: progress of the backfill, so that a stopped backfill resumes where it
-- stopped without fetching a repo twice. One pass = page every discovery service to the end,
-- then fetch every discovered DID's record; a new pass clears both tables.

-- One row per discovery service (relay listReposByCollection, or a PDS listRepos): the
-- cursor of the next page to ask for, and whether the last page was reached.
CREATE TABLE backfill_sources (
    service    TEXT    NOT NULL PRIMARY KEY,
    cursor     TEXT,
    complete   INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per discovered DID (de-duplicated across services). `state` moves from pending to
-- indexed (record proven present), absent (proven absent, or no proof offered) or failed
-- (retries exhausted or bad evidence; `error` says why). The state change is written in the
-- same transaction as the record changes it caused.
CREATE TABLE backfill_repos (
    did        TEXT    NOT NULL PRIMARY KEY,
    state      TEXT    NOT NULL CHECK (state IN ('pending', 'indexed', 'absent', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- The work list of a resumed pass, in DID order.
CREATE INDEX backfill_repos_todo ON backfill_repos (did) WHERE state IN ('pending', 'failed');
