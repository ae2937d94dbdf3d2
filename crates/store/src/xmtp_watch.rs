//! The d14n watcher's read: every cached XMTP inbox with its log position, paged. The
//! positions are the subscriptions' durable cursor: a restarted watcher resumes each
//! inbox's subscription from the position the verifier last replayed, so an update
//! published while it was down is pushed again (nothing lost) and older ones are not.

use crate::error::StoreError;
use crate::reader::Reader;
use rusqlite::Connection;

fn positions(conn: &Connection, after: &str, limit: usize) -> rusqlite::Result<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT inbox_id, last_sequence_id FROM xmtp_inboxes WHERE inbox_id > ?1 \
         ORDER BY inbox_id LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![after, limit as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    rows.collect()
}

impl Reader {
    /// Cached inboxes with their last replayed sequence id, by inbox id after `after`, at
    /// most `limit` (page with the last id returned; a primary-key range read).
    pub async fn xmtp_inbox_positions(
        &self,
        after: String,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.run(move |c| Ok(positions(c, &after, limit)?)).await
    }
}
