-- 0006_bounded_reads: inbox lookups read only the rows they return.
--
-- resolveInbox(es) asks for the verified links of an inbox (or, with includeUnverified,
-- for each status in turn), at most 100 of them in DID order. Anyone can publish a record
-- that names any inbox, so an inbox may be claimed by many throwaway accounts whose links
-- stay pending or invalid: indexing (inbox_id, status, did) lets each lookup stop after
-- the rows it returns instead of walking every claim of the inbox.
--
-- Reasons are capped at 256 bytes when written; reasons stored before that are cut here
-- (to 64 characters, which is at most 256 bytes of UTF-8).

DROP INDEX links_by_inbox;
CREATE INDEX links_by_inbox ON links (inbox_id, status, did) WHERE hidden = 0;

UPDATE links SET reason = substr(reason, 1, 64) WHERE length(CAST(reason AS BLOB)) > 256;
