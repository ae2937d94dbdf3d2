//! `devnet`: starts the simulated Atmosphere on loopback (relay, PLC directory, PDS, XMTP
//! identity API), generates users and links (some valid, some forged, some revoked), keeps a
//! little live traffic going, and prints the URLs and a ready-to-paste `run` line.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::DevnetArgs;
use crate::shutdown;

/// How often the live-traffic task acts.
const LIVE_TRAFFIC_EVERY: Duration = Duration::from_millis(500);

/// Runs `devnet` until SIGINT/SIGTERM.
pub async fn run(args: DevnetArgs) -> anyhow::Result<ExitCode> {
    if args.links > args.users {
        anyhow::bail!(
            "--links ({}) cannot exceed --users ({}): each link belongs to one user",
            args.links,
            args.users
        );
    }
    let devnet = ::devnet::world::Devnet::start(::devnet::world::DevnetConfig::default())
        .await
        .context("start the devnet")?;
    let generated = devnet
        .generate(args.users, args.links)
        .context("generate users and links")?;
    let info = devnet.info();
    let _traffic = devnet.start_live_traffic(LIVE_TRAFFIC_EVERY);

    let report = format!(
        "devnet is up on loopback\n\
         \x20 relay (firehose)   {}\n\
         \x20 discovery          {}\n\
         \x20 PLC directory      {}\n\
         \x20 PDS                {}\n\
         \x20 XMTP identity API  {}\n\
         \x20 handle resolver    {}\n\
         generated {} users: {} valid links, {} forged, {} revoked (live traffic every {:?})\n\
         example valid DID:  {}\n\n\
         point the AppView at it (in another terminal):\n\n\
         \x20 {}\n\n\
         then: curl 'http://127.0.0.1:2585/xrpc/org.xmtp.identity.listLinks?status=all'\n\
         Ctrl-C stops the devnet.",
        info.relay_url,
        info.discovery_url,
        info.plc_url,
        info.pds_url,
        info.xmtp_api_url,
        info.handle_resolver_url,
        generated.users.len(),
        generated.valid.len(),
        generated.forged.len(),
        generated.revoked.len(),
        LIVE_TRAFFIC_EVERY,
        generated.valid.first().map_or("(none)", String::as_str),
        info.run_command_line(),
    );
    print_report(&report);
    shutdown::on_signal().cancelled().await;
    Ok(ExitCode::SUCCESS)
}

/// The devnet's one deliberate standard-output write: the URLs a person pastes.
#[allow(clippy::print_stdout)]
fn print_report(report: &str) {
    println!("{report}");
}
