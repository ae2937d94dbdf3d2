//! The command line: raw clap arguments. Every option also reads an `XMTP_APPVIEW_*`
//! environment variable (upper case, `-` as `_`), as the public contract requires.
//! Validation into typed configuration happens in `config.rs`, not here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// xmtp-appview: an ATProto AppView linking ATProto identities to XMTP inboxes.
#[derive(Debug, Parser)]
#[command(name = "xmtp-appview", version)]
pub struct Cli {
    /// Log output format; the level comes from `RUST_LOG`.
    #[arg(long, global = true, env = "XMTP_APPVIEW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The commands of the public contract.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole AppView in one process: firehose ingest, verifier pool, XRPC server.
    Run(RunArgs),
    /// The XRPC server alone over an existing index.
    Serve(ServeArgs),
    /// Find every repo that holds `org.xmtp.inbox` and index its record; resumable.
    Backfill(BackfillArgs),
    /// One-shot, no database: resolve, fetch the record, verify both halves, print the verdict.
    ///
    /// Exit codes: 0 verified; 1 not verified (no record, malformed record, bad proof,
    /// signature mismatch, inbox not found, ...); 2 error: bad input, an unknown or
    /// unverifiable handle, an unknown DID, or a network failure (never a verdict).
    /// Standard output carries only the report (`--json`: one JSON object); logs go to
    /// standard error.
    Verify(VerifyArgs),
    /// Write the mapping as CSV, JSON lines or a SQLite snapshot.
    Export(ExportArgs),
    /// Start a simulated Atmosphere on loopback (relay, PLC, PDS, XMTP identity API).
    Devnet(DevnetArgs),
}

/// Where the index lives.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// SQLite file; created and migrated on start.
    #[arg(
        long,
        env = "XMTP_APPVIEW_DB",
        default_value = "./data/xmtp-appview.sqlite"
    )]
    pub db: PathBuf,

    /// SQLite page caches in all, MiB: half for the writer, half shared by the readers
    /// (which read the index through a memory map). They fill as the index grows and stay
    /// resident: this bounds the index's share of the process's memory.
    #[arg(long, env = "XMTP_APPVIEW_DB_CACHE_MIB",
          default_value_t = store::StoreOptions::DEFAULT_CACHE_MIB,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub db_cache_mib: u32,
}

impl DbArgs {
    /// The store settings these options ask for.
    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions::with_cache_mib(self.db_cache_mib)
    }
}

/// The networks the AppView talks to.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// PLC directory.
    #[arg(
        long,
        env = "XMTP_APPVIEW_PLC",
        default_value = "https://plc.directory"
    )]
    pub plc: String,

    /// XMTP network.
    #[arg(long, env = "XMTP_APPVIEW_XMTP_ENV", value_enum, default_value_t = XmtpEnv::Production)]
    pub xmtp_env: XmtpEnv,

    /// Overrides the XMTP identity API endpoint (`http://` allowed, for local nodes).
    #[arg(long, env = "XMTP_APPVIEW_XMTP_API")]
    pub xmtp_api: Option<String>,

    /// Resolve handles through `com.atproto.identity.resolveHandle` at this service
    /// instead of DNS/HTTPS.
    #[arg(long, env = "XMTP_APPVIEW_HANDLE_RESOLVER")]
    pub handle_resolver: Option<String>,

    /// Allow PDS / did:web / XMTP hosts on loopback and private ranges (SSRF guard off).
    #[arg(long, env = "XMTP_APPVIEW_ALLOW_PRIVATE_NETWORK")]
    pub allow_private_network: bool,

    /// The most resolved DID documents (and, apart, handles) kept in memory, ~0.7 KiB each;
    /// a miss costs one PLC / did:web fetch.
    #[arg(long, env = "XMTP_APPVIEW_IDENTITY_CACHE_ENTRIES", default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub identity_cache_entries: u32,

    /// Which XMTP network the identity logs are read from; `auto` follows XMTP's
    /// published cutover.
    #[arg(long, env = "XMTP_APPVIEW_XMTP_BACKEND", value_enum, default_value_t = XmtpBackend::Auto)]
    pub xmtp_backend: XmtpBackend,

    /// The d14n gateway (node discovery).
    #[arg(long, env = "XMTP_APPVIEW_XMTP_GATEWAY")]
    pub xmtp_gateway: Option<String>,
}

/// Which XMTP network serves the identity logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XmtpBackend {
    /// The v3 `IdentityApi` (gRPC) of the XMTP nodes.
    V3,
    /// The decentralised network (xmtpd nodes behind a gateway).
    D14n,
    /// v3 until XMTP's published cutover, then d14n.
    Auto,
}

/// Where repos holding the collection are discovered.
#[derive(Debug, Args)]
pub struct DiscoveryArgs {
    /// Where `listReposByCollection` is asked; repeatable.
    #[arg(
        long,
        env = "XMTP_APPVIEW_DISCOVERY",
        value_delimiter = ',',
        default_value = "https://relay1.us-east.bsky.network"
    )]
    pub discovery: Vec<String>,
}

/// The XMTP network to verify against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XmtpEnv {
    /// `grpc.dev.xmtp.network`.
    Dev,
    /// `grpc.production.xmtp.network`.
    Production,
}

/// Options of the XRPC server.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// XRPC server address.
    #[arg(long, env = "XMTP_APPVIEW_LISTEN", default_value = "127.0.0.1:2585")]
    pub listen: String,

    /// The AppView's own did:web, served at `/.well-known/did.json`.
    #[arg(long, env = "XMTP_APPVIEW_SERVICE_DID")]
    pub service_did: Option<String>,

    /// XRPC requests per second per client IP (IPv6: per /64); burst 2N; 0 disables;
    /// loopback is not exempt. Over it: 429 `RateLimitExceeded` with `Retry-After`.
    #[arg(long, env = "XMTP_APPVIEW_RATE_LIMIT", default_value_t = 100)]
    pub rate_limit: u32,

    /// The most open XRPC connections; beyond it a new connection is answered 503 and
    /// closed. Each open connection holds ~17 KiB, so this bounds their memory.
    #[arg(long, env = "XMTP_APPVIEW_MAX_CONNECTIONS", default_value_t = 4_096,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// The most open XRPC connections of one client IP (IPv6: per /64); beyond it a new
    /// connection is answered 429 and closed; 0 disables (behind a proxy, cap per client
    /// there: every client shares the proxy's address).
    #[arg(
        long,
        env = "XMTP_APPVIEW_MAX_CONNECTIONS_PER_IP",
        default_value_t = 256
    )]
    pub max_connections_per_ip: u32,

    /// Serve `/metrics` (Prometheus text) on this separate address; off by default, and
    /// never on the public listener.
    #[arg(long, env = "XMTP_APPVIEW_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where the index lives.
    #[command(flatten)]
    pub db: DbArgs,
    /// The XRPC server.
    #[command(flatten)]
    pub server: ServerArgs,
    /// The networks to talk to.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Where repos are discovered.
    #[command(flatten)]
    pub discovery: DiscoveryArgs,

    /// Firehose relay (`ws://` allowed).
    #[arg(
        long,
        env = "XMTP_APPVIEW_RELAY",
        default_value = "wss://relay1.us-east.bsky.network"
    )]
    pub relay: String,

    /// Follow another xmtp-appview (`listLinks` + `subscribeLinks`) instead of the firehose,
    /// re-verifying every link.
    #[arg(long, env = "XMTP_APPVIEW_UPSTREAM")]
    pub upstream: Option<String>,

    /// Re-check verified links this old; durations read like `90s`, `15m`, `24h`.
    #[arg(long, env = "XMTP_APPVIEW_REVERIFY_AFTER", default_value = "24h")]
    pub reverify_after: String,

    /// Re-check the verified links of recently active accounts this often (v3 cannot push
    /// revocations); `0` turns it off. Has effect only when shorter than
    /// `--reverify-after`.
    #[arg(
        long,
        env = "XMTP_APPVIEW_REVERIFY_ACTIVE_AFTER",
        default_value = "10m"
    )]
    pub reverify_active_after: String,

    /// A link is recently active this long after its record was indexed (capped by its
    /// `createdAt`) or its inbox's identity log was seen to change.
    #[arg(long, env = "XMTP_APPVIEW_ACTIVE_WINDOW", default_value = "7d")]
    pub active_window: String,

    /// Inboxes per minute the active re-checks may read from XMTP (v3 allows 4,000
    /// requests of 50 inboxes a minute per IP; the default is half of that).
    #[arg(
        long,
        env = "XMTP_APPVIEW_REVERIFY_ACTIVE_BUDGET",
        default_value_t = 100_000
    )]
    pub reverify_active_budget: u64,

    /// Check the signature and Sync 1.1 proof of every commit on the stream, not only
    /// those that matter to the index (to audit a relay).
    #[arg(long, env = "XMTP_APPVIEW_VERIFY_ALL_COMMITS")]
    pub verify_all_commits: bool,

    /// With `--upstream`: fall back to the relay after the upstream is gone this long.
    #[arg(long, env = "XMTP_APPVIEW_UPSTREAM_GRACE", default_value = "5m")]
    pub upstream_grace: String,

    /// How long `subscribeLinks` can replay.
    #[arg(long, env = "XMTP_APPVIEW_SUBSCRIBE_RETENTION", default_value = "72h")]
    pub subscribe_retention: String,

    /// The newest `subscribeLinks` frames kept in memory (~0.6 KiB each) so that consumers
    /// catching up are served without a database read; older ones come from the outbox.
    #[arg(
        long,
        env = "XMTP_APPVIEW_SUBSCRIBE_KEPT_FRAMES",
        default_value_t = 16_384
    )]
    pub subscribe_kept_frames: u32,
}

/// Options of `serve`: every option of `run` (those it does not use are accepted and
/// ignored), plus its own.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The options of `run`.
    #[command(flatten)]
    pub run: RunArgs,

    /// Replica mode: open the index read-only; no ingest, no writes.
    #[arg(long, env = "XMTP_APPVIEW_READ_ONLY")]
    pub read_only: bool,
}

/// Options of `backfill`: every option of `run` (those it does not use are accepted and
/// ignored), plus its own.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The options of `run`.
    #[command(flatten)]
    pub run: RunArgs,

    /// Repos fetched at once, over all PDS hosts.
    #[arg(long, env = "XMTP_APPVIEW_CONCURRENCY", default_value_t = 64)]
    pub concurrency: usize,

    /// Requests in flight to one host at once (be gentle with other people's PDSes).
    #[arg(long, env = "XMTP_APPVIEW_PER_HOST_CONCURRENCY", default_value_t = 8)]
    pub per_host_concurrency: usize,

    /// Start a new pass from scratch instead of resuming an unfinished one.
    #[arg(long, env = "XMTP_APPVIEW_FRESH")]
    pub fresh: bool,
}

/// Options of `verify`: every option of `run`, plus its own.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The handle or DID to check.
    pub actor: String,

    /// The options of `run` (those `verify` does not use are accepted and ignored).
    #[command(flatten)]
    pub run: RunArgs,

    /// Print the report as JSON.
    #[arg(long, env = "XMTP_APPVIEW_JSON")]
    pub json: bool,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON link view per line.
    Jsonl,
    /// A consistent SQLite snapshot of the index.
    Sqlite,
}

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where the index lives.
    #[command(flatten)]
    pub db: DbArgs,

    /// Output format.
    #[arg(long, env = "XMTP_APPVIEW_FORMAT", value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,

    /// Output path; `-` is standard output.
    #[arg(long, env = "XMTP_APPVIEW_OUT", default_value = "-")]
    pub out: String,

    /// Include pending and invalid links too.
    #[arg(long, env = "XMTP_APPVIEW_INCLUDE_UNVERIFIED")]
    pub include_unverified: bool,
}

/// Options of `devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Generated accounts.
    #[arg(long, env = "XMTP_APPVIEW_USERS", default_value_t = 20)]
    pub users: usize,

    /// Generated `org.xmtp.inbox` links among them (some valid, some forged, some revoked).
    #[arg(long, env = "XMTP_APPVIEW_LINKS", default_value_t = 10)]
    pub links: usize,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A `run` line that gives every option of `run` a non-default value.
    const RUN_LINE: &[&str] = &[
        "--db",
        "/tmp/x.sqlite",
        "--listen",
        "127.0.0.1:7000",
        "--service-did",
        "did:web:example.com",
        "--rate-limit",
        "5",
        "--metrics-listen",
        "127.0.0.1:7001",
        "--plc",
        "http://127.0.0.1:1",
        "--xmtp-env",
        "dev",
        "--xmtp-api",
        "http://127.0.0.1:2",
        "--handle-resolver",
        "http://127.0.0.1:3",
        "--allow-private-network",
        "--xmtp-backend",
        "v3",
        "--xmtp-gateway",
        "http://127.0.0.1:4",
        "--discovery",
        "http://127.0.0.1:5",
        "--relay",
        "ws://127.0.0.1:6",
        "--upstream",
        "http://127.0.0.1:8",
        "--reverify-after",
        "1h",
        "--reverify-active-after",
        "5m",
        "--active-window",
        "2d",
        "--reverify-active-budget",
        "1000",
        "--verify-all-commits",
        "--upstream-grace",
        "30s",
        "--subscribe-retention",
        "1h",
        "--log-format",
        "json",
    ];

    fn parse(command: &[&str]) -> Result<Cli, clap::Error> {
        let args = std::iter::once("xmtp-appview")
            .chain(command.iter().copied())
            .chain(RUN_LINE.iter().copied());
        Cli::try_parse_from(args)
    }

    #[test]
    fn a_run_line_works_with_its_command_word_changed() {
        for command in [
            &["run"][..],
            &["serve"],
            &["backfill"],
            &["verify", "alice.test"],
        ] {
            let cli = parse(command).unwrap_or_else(|e| panic!("{command:?}: {e}"));
            let run = match cli.command {
                Command::Run(a) => a,
                Command::Serve(a) => a.run,
                Command::Backfill(a) => a.run,
                Command::Verify(a) => a.run,
                other => panic!("{other:?}"),
            };
            assert_eq!(run.relay, "ws://127.0.0.1:6", "{command:?}");
            assert_eq!(run.upstream_grace, "30s", "{command:?}");
            assert_eq!(run.network.xmtp_backend, XmtpBackend::V3, "{command:?}");
            assert_eq!(run.server.rate_limit, 5, "{command:?}");
            assert_eq!(run.reverify_active_after, "5m", "{command:?}");
            assert_eq!(run.active_window, "2d", "{command:?}");
            assert_eq!(run.reverify_active_budget, 1000, "{command:?}");
        }
    }

    #[test]
    fn d14n_needs_a_gateway_and_is_accepted_with_one() {
        let net = |extra: &[&str]| {
            let args = ["xmtp-appview", "run"]
                .into_iter()
                .chain(extra.iter().copied());
            match Cli::try_parse_from(args).unwrap().command {
                Command::Run(r) => r.network,
                other => panic!("{other:?}"),
            }
        };
        let err = crate::config::xmtp_backend(&net(&["--xmtp-backend", "d14n"])).unwrap_err();
        assert!(err.to_string().contains("needs --xmtp-gateway"), "{err}");
        let (backend, gateway) = crate::config::xmtp_backend(&net(&[
            "--xmtp-backend",
            "d14n",
            "--xmtp-gateway",
            "https://payer.testnet.xmtp.network:443",
        ]))
        .unwrap();
        assert_eq!(backend, XmtpBackend::D14n);
        assert_eq!(
            gateway.as_deref(),
            Some("https://payer.testnet.xmtp.network:443")
        );
        // auto without a gateway reads v3 (and warns once the cutover passes).
        let (backend, gateway) = crate::config::xmtp_backend(&net(&[])).unwrap();
        assert_eq!((backend, gateway), (XmtpBackend::Auto, None));
    }

    #[test]
    fn unknown_options_are_still_refused() {
        let err = parse(&["serve", "--no-such-option"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn new_options_default_to_the_contract() {
        let cli = Cli::try_parse_from(["xmtp-appview", "run"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.network.xmtp_backend, XmtpBackend::Auto);
        assert_eq!(run.upstream_grace, "5m");
        assert_eq!(run.subscribe_retention, "72h");
        assert_eq!(run.network.xmtp_gateway, None);
        assert_eq!(run.reverify_active_after, "10m");
        assert_eq!(run.active_window, "7d");
        assert_eq!(run.reverify_active_budget, 100_000);
    }

    #[test]
    fn the_cache_budget_defaults_to_16_mib_for_every_command_and_is_checked() {
        for cmd in ["run", "serve", "backfill"] {
            let cli = Cli::try_parse_from(["xmtp-appview", cmd]).unwrap();
            let db = match cli.command {
                Command::Run(a) => a.db,
                Command::Serve(a) => a.run.db,
                Command::Backfill(a) => a.run.db,
                _ => panic!("{cmd}"),
            };
            assert_eq!(db.db_cache_mib, 16, "{cmd}");
            assert_eq!(db.store_options().writer_cache_kib, 8 * 1024, "{cmd}");
        }
        let cli = Cli::try_parse_from(["xmtp-appview", "run", "--db-cache-mib", "64"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.db.store_options().writer_cache_kib, 32 * 1024);
        let err = parse(&["run", "--db-cache-mib", "0"]).unwrap_err();
        assert!(err.to_string().contains("--db-cache-mib"), "{err}");
    }

    #[test]
    fn the_memory_bounds_of_identities_and_kept_frames_default_and_reach_the_config() {
        let cli = Cli::try_parse_from(["xmtp-appview", "run"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.network.identity_cache_entries, 100_000);
        assert_eq!(run.subscribe_kept_frames, 16_384);
        let cli = Cli::try_parse_from([
            "xmtp-appview",
            "run",
            "--identity-cache-entries",
            "2000",
            "--subscribe-kept-frames",
            "1024",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        let cfg = crate::cmd::run::RunConfig::from_args(&run).unwrap();
        assert_eq!(cfg.identity_cache_entries, 2_000);
        assert_eq!(cfg.subscribe_kept_frames, 1_024);
        let err = parse(&["verify", "--identity-cache-entries", "0", "alice.test"]).unwrap_err();
        assert!(
            err.to_string().contains("--identity-cache-entries"),
            "{err}"
        );
    }
}
