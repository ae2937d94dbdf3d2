//! Latency a user feels (issue 11, item 5), against the devnet:
//!
//! ```text
//! cargo bench -p appview --bench latency                      # all three parts
//! LATENCY_PART=fresh cargo bench -p appview --bench latency   # or restart, oneshot
//! ```
//!
//! - `fresh`: a new `org.xmtp.inbox` record → its `verified` answer from `resolveActor`,
//!   with `LATENCY_MS` (50) added to every XMTP API, PDS and PLC answer, under steady live
//!   devnet traffic (`LATENCY_TRAFFIC_MS`: one action every 5 ms); `LATENCY_SAMPLES` (100)
//!   records, one after another; p50/p99/max.
//! - `restart`: `RESTART_LINKS` (1,000,000) verified links seeded through `store::Writer`
//!   (kept in `RESTART_DB` when set, to reuse), then the `xmtp-appview run` binary started
//!   over it `RESTART_RUNS` (3) times: time from spawn to the first `_health` answer and to
//!   the first `resolveActor` answer of a seeded link.
//! - `oneshot`: the `xmtp-appview verify <handle> --json` binary, wall time from spawn to
//!   exit, `ONESHOT_RUNS` (10) times, with 0 ms and with 50 ms added to every answer; the
//!   difference over 50 ms is the number of sequential network round trips.

#![allow(missing_docs)] // bench-internal items

mod fresh;
mod oneshot;
mod restart;

use std::time::Duration;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `p` quantile (0..=1) of sorted durations, in milliseconds.
fn pct_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Writes a report line on standard output.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> anyhow::Result<()> {
    let part = std::env::var("LATENCY_PART").unwrap_or_else(|_| "all".to_owned());
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        if matches!(part.as_str(), "all" | "fresh") {
            fresh::run().await?;
        }
        if matches!(part.as_str(), "all" | "oneshot") {
            oneshot::run().await?;
        }
        if matches!(part.as_str(), "all" | "restart") {
            restart::run().await?;
        }
        Ok(())
    })
}
