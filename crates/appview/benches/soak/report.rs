//! The soak's figures and verdict.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::Settings;
use crate::load::{self, Flood, Polite};
use crate::loris::Loris;
use crate::rss::Series;
use crate::traffic::Counters;

/// User + system CPU seconds of `pid` so far.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The 1-minute load average.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

/// Everything measured.
pub struct Report {
    pub settings: Settings,
    pub elapsed: f64,
    pub rss: Series,
    pub polite: Arc<Polite>,
    pub flood: Arc<Flood>,
    pub loris: Arc<Loris>,
    pub events: Arc<Counters>,
    pub before: Value,
    pub during: Value,
    pub after: Value,
    pub head: i64,
    pub caught_up: f64,
    pub cpu: Option<f64>,
    pub loads: Vec<String>,
    pub exit: String,
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

impl Report {
    /// Writes the report to stdout; true when every check held.
    pub fn print(&self) -> bool {
        let mut o = String::new();
        let s = &self.settings;
        let t = self.elapsed;
        let (start, peak, end) = self.rss.start_peak_end();
        o += &format!(
            "soak: {t:.0} s; firehose target {} ev/s, polite {} q/s from 10 IPs, rate limit {}/s per IP, flood {} req/s, {} slow-loris conns\n",
            s.events_per_sec, s.qps, s.rate_limit, s.flood_rps, s.loris
        );
        o += &format!(
            "RSS (AppView process): start {start:.1} MiB, peak {peak:.1} MiB, end {end:.1} MiB; slope {:+.2} MiB/h (whole run), {:+.2} MiB/h (second half); {} samples\n",
            self.rss.slope_mib_per_hour(0.0),
            self.rss.slope_mib_per_hour(0.5),
            self.rss.samples.len()
        );
        let frames = |v: &Value| v["firehose"]["frames"].as_u64().unwrap_or(0);
        let events = self.events.events.load(Ordering::Relaxed);
        o += &format!(
            "ingest: devnet wrote {events} events ({:.0}/s, {} refused), AppView read {} frames in the window ({:.0}/s); relay head {} , cursor {} ; caught up {:.1} s after the load stopped; lag at end of load {}s\n",
            events as f64 / t,
            self.events.errors.load(Ordering::Relaxed),
            frames(&self.during) - frames(&self.before),
            (frames(&self.during) - frames(&self.before)) as f64 / t,
            self.head,
            self.after["firehose"]["cursor"],
            self.caught_up,
            self.during["firehose"]["lagSeconds"],
        );
        o += &format!(
            "index: before {} ; after {} ; new linked accounts {}\n",
            self.before["counts"],
            self.after["counts"],
            self.events.links.load(Ordering::Relaxed)
        );
        if let Some(cpu) = self.cpu {
            o += &format!(
                "AppView CPU: {cpu:.1} s over {t:.0} s ({:.0} % of one core)\n",
                cpu / t * 100.0
            );
        }
        o += &format!("load average (1 min) sampled: {}\n", self.loads.join(" "));

        let p = &self.polite;
        let (ok, err) = (
            p.ok.load(Ordering::Relaxed),
            p.errors.load(Ordering::Relaxed),
        );
        let mut lat = p.latencies.lock().map(|l| l.clone()).unwrap_or_default();
        lat.sort_unstable();
        let per: Vec<String> = load::METHODS
            .iter()
            .zip(&p.per_method)
            .map(|(m, n)| format!("{m} {}", n.load(Ordering::Relaxed)))
            .collect();
        o += &format!(
            "polite: {ok} OK, {err} errors ({:.0} q/s achieved); latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; {}\n",
            (ok + err) as f64 / t,
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&lat, 0.999),
            pct(&lat, 1.0),
            per.join(", ")
        );
        if let Ok(first) = p.first_errors.lock() {
            for e in first.iter() {
                o += &format!("  polite error: {e}\n");
            }
        }

        let f = &self.flood;
        let (sent, fok, limited, bad, other) = (
            f.sent.load(Ordering::Relaxed),
            f.ok.load(Ordering::Relaxed),
            f.limited.load(Ordering::Relaxed),
            f.limited_malformed.load(Ordering::Relaxed),
            f.other.load(Ordering::Relaxed),
        );
        let (refused, no_answer) = (
            f.conn_refused.load(Ordering::Relaxed),
            f.no_answer.load(Ordering::Relaxed),
        );
        // The limiter admits its burst (2N) plus N per second; everything else must be 429.
        let budget = 2 * u64::from(s.rate_limit) + (f64::from(s.rate_limit) * (t + 1.0)) as u64;
        o += &format!(
            "flood: {sent} sent, {limited} answered 429 ({bad} of them without RateLimitExceeded + RateLimit-* headers), {refused} refused at accept by the per-address connection cap (429), {no_answer} got no answer (connection closed or reset), {fok} answered 200 and {other} other: {} admitted of the limiter budget {budget}\n",
            fok + other
        );
        if let Ok(first) = f.first_other.lock() {
            for e in first.iter() {
                o += &format!("  flood other: {e}\n");
            }
        }

        let l = &self.loris;
        let lives = l.lifetimes.lock().map(|v| v.clone()).unwrap_or_default();
        let (lo, hi) = lives
            .iter()
            .fold((f64::MAX, 0.0_f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        o += &format!(
            "slow-loris: {} opened, {} closed by the server (lived {:.1}–{:.1} s), {} got answer bytes, {} connect errors\n",
            l.opened.load(Ordering::Relaxed),
            l.closed.load(Ordering::Relaxed),
            if lives.is_empty() { 0.0 } else { lo },
            hi,
            l.answered.load(Ordering::Relaxed),
            l.connect_errors.load(Ordering::Relaxed),
        );
        o += &format!("AppView exit: {}\n", self.exit);

        let checks = [
            ("polite errors = 0", err == 0 && ok > 0),
            (
                "flood: every answer beyond budget is 429",
                // Requests the limiter admits (within its budget) may still meet the
                // in-flight cap (503 Overloaded) when the server is starved; beyond the
                // budget, only 429.
                bad == 0 && fok + other <= budget,
            ),
            (
                "slow-loris closed by the server",
                l.closed.load(Ordering::Relaxed) > 0 || t < 35.0,
            ),
        ];
        let mut all = true;
        for (name, held) in checks {
            o += &format!("check {name}: {}\n", if held { "ok" } else { "FAILED" });
            all &= held;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(o.as_bytes());
        let _ = out.flush();
        all
    }
}
