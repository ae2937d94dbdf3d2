//! Where a mirror stands in its upstream's `subscribeLinks` stream (migration 0009). Written
//! through the [`Writer`](crate::Writer) as [`Change::Upstream`](crate::Change::Upstream), in
//! the same transaction as the resync rows its hints queued, so a restart resumes without
//! losing one; read through the [`Reader`].

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::reader::Reader;

/// The saved position of a mirror in one upstream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpstreamState {
    /// The last `subscribeLinks` seq whose hint is queued, `None` before the first.
    pub seq: Option<i64>,
    /// A full `listLinks` pass was queued while following the stream.
    pub bootstrapped: bool,
}

pub(crate) fn apply(
    conn: &Connection,
    upstream: &str,
    state: &UpstreamState,
    now_ms: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO upstream_state (upstream, seq, bootstrapped, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (upstream) DO UPDATE SET seq = excluded.seq,
            bootstrapped = excluded.bootstrapped, updated_at = excluded.updated_at",
    )?
    .execute(params![
        upstream,
        state.seq,
        i64::from(state.bootstrapped),
        now_ms
    ])?;
    Ok(())
}

impl Reader {
    /// The saved position in `upstream`'s stream (default: nothing saved yet).
    pub async fn upstream_state(&self, upstream: &str) -> Result<UpstreamState, StoreError> {
        let upstream = upstream.to_owned();
        self.run(move |c| {
            let row = c
                .prepare_cached("SELECT seq, bootstrapped FROM upstream_state WHERE upstream = ?1")?
                .query_row([&upstream], |r| {
                    Ok(UpstreamState {
                        seq: r.get(0)?,
                        bootstrapped: r.get::<_, i64>(1)? != 0,
                    })
                })
                .optional()?;
            Ok(row.unwrap_or_default())
        })
        .await
    }
}
