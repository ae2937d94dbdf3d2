//! The AppView under test, in its own process (so that its RSS is its own, not the
//! devnet's): the bench re-executes itself with `SOAK_CHILD=1` and the devnet URLs in the
//! environment; the child starts `appview::cmd::run::start_with`, writes `listening <addr>`
//! on stdout, and stops cleanly when its stdin closes.
//!
//! For a heap profile, `SOAK_CHILD_WRAP` runs the child under a wrapper command (split on
//! whitespace, the child's command line appended), e.g.
//! `SOAK_CHILD_WRAP="heaptrack -o /tmp/soak"`; the child reports its own pid, so the RSS
//! sampled is still the AppView's and not the wrapper's. `SOAK_CHILD_WRAP="env
//! MALLOC_ARENA_MAX=2"` measures an allocator setting.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use appview::cli::XmtpBackend;
use appview::cmd::run::{RunConfig, start_with};
use appview::config::HttpOptions;
use devnet::world::DevnetInfo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::sync::CancellationToken;

/// Set in the child's environment.
pub const CHILD_ENV: &str = "SOAK_CHILD";
/// A command to run the child under (bench-only), e.g. `heaptrack -o /tmp/soak`.
const WRAP_ENV: &str = "SOAK_CHILD_WRAP";

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("{name} not set"))
}

/// A memory bound of the AppView from `name` (the option it stands for), else `default`.
fn bound(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}: `{v}` is not a count")),
        Err(_) => Ok(default),
    }
}

/// Runs the AppView until stdin closes.
pub async fn run_child() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let cfg = RunConfig {
        db: PathBuf::from(var("SOAK_DB")?),
        // --db-cache-mib
        db_cache_mib: u32::try_from(bound(
            "SOAK_DB_CACHE_MIB",
            store::StoreOptions::DEFAULT_CACHE_MIB as usize,
        )?)?,
        listen: "127.0.0.1:0".parse()?,
        relay: var("SOAK_RELAY")?,
        discovery: vec![var("SOAK_DISCOVERY")?],
        plc: var("SOAK_PLC")?,
        xmtp_api: var("SOAK_XMTP")?,
        handle_resolver: Some(var("SOAK_HANDLES")?),
        service_did: None,
        reverify_after: Duration::from_secs(6 * 3600),
        reverify_tier: verifier::tier::TierConfig::default(),
        verify_all_commits: false,
        allow_private_network: true,
        xmtp_backend: XmtpBackend::V3,
        xmtp_gateway: None,
        upstream: None,
        upstream_grace: Duration::from_secs(300),
        subscribe_retention: Duration::from_secs(72 * 3600),
        // --subscribe-kept-frames, --identity-cache-entries
        subscribe_kept_frames: bound("SOAK_KEPT_FRAMES", 16_384)?,
        identity_cache_entries: bound("SOAK_IDENTITY_CACHE", 100_000)?,
    };
    let mut http = HttpOptions::default();
    http.server.rate_limit = var("SOAK_RATE_LIMIT")?.parse()?;
    let shutdown = CancellationToken::new();
    let running = start_with(cfg, http, None, shutdown.clone()).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening {} {}", running.addr, std::process::id())?;
        out.flush()?;
    }
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
        stop.cancel();
    });
    running.wait(shutdown).await
}

/// The child process, seen from the parent.
pub struct Child {
    pub pid: u32,
    pub addr: std::net::SocketAddr,
    process: tokio::process::Child,
}

impl Child {
    /// Starts the AppView over `db` against the devnet at `info`.
    pub async fn spawn(
        info: &DevnetInfo,
        db: &std::path::Path,
        rate_limit: u32,
    ) -> anyhow::Result<Child> {
        let exe = std::env::current_exe()?;
        let wrap = std::env::var(WRAP_ENV).unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = tokio::process::Command::new(program);
                c.args(words).arg(&exe);
                c
            }
            None => tokio::process::Command::new(&exe),
        };
        let mut process = command
            .env(CHILD_ENV, "1")
            .env("SOAK_DB", db)
            .env("SOAK_RELAY", &info.relay_url)
            .env("SOAK_DISCOVERY", &info.discovery_url)
            .env("SOAK_PLC", &info.plc_url)
            .env("SOAK_XMTP", &info.xmtp_api_url)
            .env("SOAK_HANDLES", &info.handle_resolver_url)
            .env("SOAK_RATE_LIMIT", rate_limit.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawn the AppView child")?;
        let stdout = process.stdout.take().context("child stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        // The wrapper (if any) may print lines of its own first.
        let line = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                match lines.next_line().await? {
                    Some(l) if l.starts_with("listening ") => return Ok(l),
                    Some(_) => {}
                    None => anyhow::bail!("the AppView exited before listening"),
                }
            }
        })
        .await
        .context("the AppView did not start within 60 s")??;
        let mut words = line["listening ".len()..].split_whitespace();
        let addr = words.next().context("no address")?.parse()?;
        let pid = words.next().context("no pid")?.parse()?;
        // Keep reading, so that the wrapper's last lines do not meet a closed pipe.
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                eprintln!("soak-child stdout: {l}");
            }
        });
        Ok(Child { pid, addr, process })
    }

    /// Closes its stdin (a clean stop) and waits; kills it after 30 s.
    pub async fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        drop(self.process.stdin.take());
        match tokio::time::timeout(Duration::from_secs(30), self.process.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.process.kill().await?;
                anyhow::bail!("the AppView did not stop within 30 s of its stdin closing")
            }
        }
    }
}
