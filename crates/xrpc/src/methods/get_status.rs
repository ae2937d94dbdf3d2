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
}

/// The output of `getStatus`.
#[derive(Serialize)]
pub(crate) struct StatusOutput {
    firehose: FirehoseOutput,
    counts: Counts,
    version: String,
}

/// `getStatus`: takes no parameters (unknown ones are ignored, as XRPC allows).
pub(crate) async fn get_status(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<StatusOutput>, XrpcError> {
    Params::parse(query.as_deref())?;
    let fh = state.reader.firehose_state().await?;
    let counts = state.reader.counts().await?;
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
        },
        counts,
        version: state.version.to_string(),
    }))
}
