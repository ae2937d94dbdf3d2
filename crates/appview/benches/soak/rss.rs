//! Resident memory of the AppView process, sampled from `/proc/<pid>/status`.

use std::time::Instant;

/// One sample: seconds since the measurement began, and VmRSS in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub secs: f64,
    pub kib: u64,
}

/// The `field` (`VmRSS`, `RssAnon` in KiB; `Threads`) of `/proc/<pid>/status`, or None
/// when the process is gone.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Open sockets of `pid` (its HTTP connections, the firehose, the outbound clients'), from
/// `/proc/<pid>/fd`: what the server's memory follows (each open HTTP connection holds
/// ~17 KiB of hyper buffers and connection state).
pub fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| {
        dir.filter_map(Result::ok)
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
            })
            .count()
    })
}

/// VmRSS of `pid` in KiB, or None when the process is gone.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS")
}

/// The samples taken so far.
#[derive(Debug)]
pub struct Series {
    pub started: Instant,
    pub samples: Vec<Sample>,
}

impl Series {
    pub fn new() -> Series {
        Series {
            started: Instant::now(),
            samples: Vec::new(),
        }
    }

    /// Samples `pid` now; returns the value (KiB).
    pub fn sample(&mut self, pid: u32) -> Option<u64> {
        let kib = vm_rss_kib(pid)?;
        let secs = self.started.elapsed().as_secs_f64();
        self.samples.push(Sample { secs, kib });
        Some(kib)
    }

    /// Least-squares slope of the samples from `from` (a fraction of the run, 0..1) to the
    /// end, in MiB per hour.
    pub fn slope_mib_per_hour(&self, from: f64) -> f64 {
        let end = self.samples.last().map_or(0.0, |s| s.secs);
        let pts: Vec<(f64, f64)> = self
            .samples
            .iter()
            .filter(|s| s.secs >= end * from)
            .map(|s| (s.secs, s.kib as f64 / 1024.0))
            .collect();
        let n = pts.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / n,
            pts.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        if sxx == 0.0 { 0.0 } else { sxy / sxx * 3600.0 }
    }

    /// (first, peak, last) in MiB.
    pub fn start_peak_end(&self) -> (f64, f64, f64) {
        let mib = |k: u64| k as f64 / 1024.0;
        let first = self.samples.first().map_or(0, |s| s.kib);
        let last = self.samples.last().map_or(0, |s| s.kib);
        let peak = self.samples.iter().map(|s| s.kib).max().unwrap_or(0);
        (mib(first), mib(peak), mib(last))
    }
}
