-- 0007_link_events: the outbox of org.xmtp.identity.subscribeLinks.
--
-- One row per visible change of a link view, written by the writer in the same transaction
-- as the change itself, so a consumer replaying from a seq sees exactly the changes that
-- were committed, in commit order. AUTOINCREMENT: a seq is never handed out twice, even
-- after pruning emptied the table (sqlite_sequence keeps the high-water mark).
--
-- `view` is the link view as JSON (NULL for `removed`), frozen at the time of the change.
-- `time` is unix milliseconds; rows older than --subscribe-retention are pruned in small
-- batches from the low end.

CREATE TABLE link_events (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    kind TEXT    NOT NULL,
    did  TEXT    NOT NULL,
    view TEXT
);
