-- 0004_recheck: the verifier's work queue, indexed in the order it is read.
--
-- links_to_check reads pending links by (not_before, did) and verified links by
-- (verified_at, did); indexing the full pairs lets a round stop after `limit` rows instead
-- of sorting every due row. Invalid links whose reason says the XMTP side was not (yet)
-- usable — the inbox had no identity updates, or its log did not replay — are re-checked
-- every --reverify-after too: an inbox that was not yet visible, or a log that is repaired,
-- can still make such a link verified.

DROP INDEX links_pending_due;
DROP INDEX links_verified_age;
CREATE INDEX links_pending_due ON links (not_before, did) WHERE status = 'pending';
CREATE INDEX links_verified_age ON links (verified_at, did) WHERE status = 'verified';
CREATE INDEX links_invalid_recheck ON links (not_before, did)
    WHERE status = 'invalid' AND reason IN ('inbox_not_found', 'inbox_state_invalid');
