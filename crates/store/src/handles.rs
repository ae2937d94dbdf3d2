//! Reads of the verified handles (migration 0001's `handles` table) that keep handles true:
//! every handle the index serves, and the DIDs whose handle is due for re-verification.

use rusqlite::params;

use crate::error::StoreError;
use crate::reader::Reader;

impl Reader {
    /// Every handle the index holds (lowercase), for the firehose's takeover check.
    pub async fn all_handles(&self) -> Result<Vec<String>, StoreError> {
        self.run(|c| {
            // A whole-table scan: through the bounded page cache, not the memory map (see
            // `queries::tracked_dids`).
            c.pragma_update(None, "mmap_size", 0)?;
            let all = c
                .prepare_cached("SELECT handle FROM handles")
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
            c.pragma_update(None, "mmap_size", crate::conn::READER_MMAP)?;
            Ok(all?)
        })
        .await
    }

    /// DIDs whose handle was last verified before `before_ms` (unix ms), oldest first, at
    /// most `limit`.
    pub async fn handles_due(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.run(move |c| {
            Ok(c.prepare_cached(
                "SELECT did FROM handles WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2",
            )?
            .query_map(params![before_ms, limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?)
        })
        .await
    }
}
