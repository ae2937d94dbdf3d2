//! `verify <handle-or-did>`: one-shot, no database. Builds the clients and runs the two-way
//! check of [`verifier::twoway`] (actor resolved both ways, proof-checked `getRecord`, lenient
//! record, XMTP signature against a current installation). Prints each step with its evidence
//! and the verdict (or one JSON object with `--json`) on standard output; logs go to
//! standard error.
//!
//! Exit codes: 0 verified; 1 not verified (no record, malformed record, bad proof, signature
//! mismatch, inbox not found, ...); 2 error: bad input (including an unknown or unverifiable
//! handle and an unknown DID) or a network failure, which is never a verdict.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use verifier::twoway::{self, Outcome, Report, Sources};

use crate::cli::VerifyArgs;
use crate::{config, server};

/// Exit code: the link verified.
pub const EXIT_VERIFIED: u8 = 0;
/// Exit code: the link does not verify (with a reason).
pub const EXIT_NOT_VERIFIED: u8 = 1;

/// Exit code of a report.
fn exit_code(report: &Report) -> u8 {
    match report.outcome {
        Outcome::Verified => EXIT_VERIFIED,
        Outcome::NotVerified => EXIT_NOT_VERIFIED,
        Outcome::Error => crate::EXIT_ERROR,
    }
}

/// Builds the clients from the arguments and runs the two-way check
/// ([`verifier::twoway::check`]); failures are in the report.
pub async fn check(args: &VerifyArgs) -> anyhow::Result<Report> {
    let resolver = config::network_resolver(&args.run.network)?;
    let endpoint = config::xmtp_endpoint(&args.run.network)?;
    let fetcher = sync::HttpRecordFetcher::new(server::USER_AGENT)
        .context("build the PDS HTTP client")?
        .allow_private_network(args.run.network.allow_private_network);
    let (backend, gateway) = config::xmtp_backend(&args.run.network)?;
    let backends = crate::xmtp_backend::build(&endpoint, backend, gateway.as_deref())?;
    if backend == crate::cli::XmtpBackend::Auto {
        backends.refresh_cutover(gateway.is_some()).await;
    }
    let sources = Sources {
        resolver: &resolver,
        fetcher: &fetcher,
        api: backends.api.as_ref(),
        xmtp_endpoint: &endpoint,
    };
    Ok(twoway::check(&args.actor, &sources).await)
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.steps {
        out.push_str(&format!(
            "{} {:<7} {}\n",
            if s.ok { "ok  " } else { "FAIL" },
            s.step,
            s.detail
        ));
    }
    let verdict = match report.outcome {
        Outcome::Verified => "VERIFIED".to_string(),
        Outcome::NotVerified => format!(
            "NOT VERIFIED ({})",
            report.reason.as_deref().unwrap_or("unknown")
        ),
        Outcome::Error => format!("ERROR ({})", report.reason.as_deref().unwrap_or("unknown")),
    };
    out.push_str(&format!("verdict {verdict}\n"));
    out
}

/// Runs `verify` and prints the report on standard output.
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let report = check(&args).await?;
    let text = if args.json {
        let mut s = serde_json::to_string(&report).context("encode the report")?;
        s.push('\n');
        s
    } else {
        human(&report)
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("write the report")?;
    Ok(ExitCode::from(exit_code(&report)))
}
