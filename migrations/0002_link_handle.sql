-- 0002_link_handle: copy each account's verified handle onto its link, so that serving a
-- link view is a single primary-key lookup instead of a lookup plus a join. The handles table
-- stays the source of truth (it also holds handles of accounts without a link); the writer
-- keeps links.handle in step with it.
ALTER TABLE links ADD COLUMN handle TEXT;
UPDATE links SET handle = (SELECT h.handle FROM handles h WHERE h.did = links.did);
