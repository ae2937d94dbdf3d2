//! `org.xmtp.identity.getStatus`: firehose position and health, link counts, version.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;
use store::Counts;

use crate::error::XrpcError;
use crate::params::Params;
use crate::state::AppState;

/// The firehose part of `getStatus`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FirehoseOutput {
    cursor: Option<i64>,
    connected: bool,
    lag_seconds: Option<u64>,
    frames: u64,
    commits_verified: u64,
    commits_rejected: u64,
    resync_pending: u64,
}

/// The replica part of `getStatus` (`serve --read-only` only): how stale the copy is.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplicaOutput {
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_change_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_change_age_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_modified_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_age_seconds: Option<u64>,
}

/// The mirror part of `getStatus` (`run --upstream` only).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MirrorOutput {
    upstream: String,
    connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_seq: Option<i64>,
    gone_seconds: u64,
    failed_over: bool,
}

impl From<crate::state::MirrorInfo> for MirrorOutput {
    fn from(m: crate::state::MirrorInfo) -> Self {
        MirrorOutput {
            upstream: m.upstream,
            connected: m.connected,
            upstream_seq: m.upstream_seq,
            gone_seconds: m.gone_seconds,
            failed_over: m.failed_over,
        }
    }
}

/// The output of `getStatus`.
#[derive(Serialize)]
pub(crate) struct StatusOutput {
    firehose: FirehoseOutput,
    counts: Counts,
    version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<ReplicaOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror: Option<MirrorOutput>,
}

/// Whole seconds from `then_ms` to `now_ms`, never negative (lexicon data has no floats).
fn age_seconds(now_ms: i64, then_ms: i64) -> u64 {
    u64::try_from(now_ms.saturating_sub(then_ms).max(0) / 1000).unwrap_or(0)
}

/// The replica block, from the index's freshness at `now_ms`.
fn replica_output(r: store::ReplicaStatus, now_ms: i64) -> ReplicaOutput {
    ReplicaOutput {
        read_only: true,
        newest_change_at: r.newest_change_ms.map(store::format_unix_millis),
        newest_change_age_seconds: r.newest_change_ms.map(|t| age_seconds(now_ms, t)),
        file_modified_at: r.file_modified_ms.map(store::format_unix_millis),
        file_age_seconds: r.file_modified_ms.map(|t| age_seconds(now_ms, t)),
    }
}

/// `getStatus`: takes no parameters (unknown ones are ignored, as XRPC allows).
pub(crate) async fn get_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<StatusOutput>, XrpcError> {
    Params::parse(query.as_deref())?;
    let fh = state.reader.firehose_state().await?;
    let counts = state.reader.counts().await?;
    let resync_pending = state.reader.resync_pending().await?;
    let replica = if state.read_only {
        Some(replica_output(
            state.reader.replica_status().await?,
            store::now_millis(),
        ))
    } else {
        None
    };
    Ok(Json(StatusOutput {
        firehose: FirehoseOutput {
            cursor: fh.cursor,
            connected: state.live.connected(),
            lag_seconds: state
                .live
                .lag_seconds()
                .filter(|s| s.is_finite())
                // Lexicon data has no floats: whole seconds, never negative.
                .map(|s| s.max(0.0).round() as u64),
            frames: fh.frames,
            commits_verified: fh.commits_verified,
            commits_rejected: fh.commits_rejected,
            resync_pending,
        },
        counts,
        version: state.version.to_string(),
        replica,
        mirror: state.live.mirror().map(MirrorOutput::from),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ages_are_whole_seconds_and_never_negative() {
        let out = replica_output(
            store::ReplicaStatus {
                newest_change_ms: Some(1_000),
                file_modified_ms: Some(10_500),
            },
            62_999,
        );
        assert_eq!(out.newest_change_age_seconds, Some(61));
        assert_eq!(out.file_age_seconds, Some(52));
        assert_eq!(
            out.newest_change_at.as_deref(),
            Some("1970-01-01T00:00:01.000Z")
        );
        // A clock behind the file's (a copy from a host ahead of ours) reads as fresh.
        assert_eq!(age_seconds(0, 5_000), 0);
        let empty = replica_output(store::ReplicaStatus::default(), 1);
        assert_eq!(empty.newest_change_at, None);
        assert_eq!(empty.file_age_seconds, None);
    }
}
