//! `xmtp-appview verify` on the real binary against the devnet: exit codes and `--json`
//! output for a valid, a forged and a revoked link, a DID without a record, and an unknown
//! handle.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

use devnet::world::{Devnet, DevnetConfig};
use serde_json::Value;

/// Runs `verify <actor> [extra]` against `devnet`; returns (exit code, stdout, stderr).
async fn verify(devnet: &Devnet, actor: &str, extra: &[&str]) -> (i32, String, String) {
    let info = devnet.info();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"));
    cmd.args(["verify", actor, "--plc", &info.plc_url])
        .args(["--xmtp-api", &info.xmtp_api_url])
        .args(["--handle-resolver", &info.handle_resolver_url])
        .arg("--allow-private-network")
        .args(extra)
        .env("RUST_LOG", "warn");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn verify_json(devnet: &Devnet, actor: &str) -> (i32, Value) {
    let (code, stdout, stderr) = verify(devnet, actor, &["--json"]).await;
    let json: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {stdout:?}; stderr {stderr}"));
    (code, json)
}

fn handle_of(devnet: &Devnet, did: &str) -> String {
    devnet
        .users()
        .into_iter()
        .find(|u| u.did == did)
        .unwrap()
        .handle
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_valid_forged_revoked_missing_and_unknown_with_their_exit_codes() {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    // Seven links: five valid, one forged (index 3), one revoked (index 6); one user without.
    let generated = devnet.generate(8, 7).unwrap();
    let valid = generated.valid[0].clone();
    let forged = generated.forged[0].clone();
    let revoked = generated.revoked[0].clone();
    let without = generated.users[7].did.clone();

    // Valid, by handle: exit 0, the evidence in the JSON.
    let handle = handle_of(&devnet, &valid);
    let (code, json) = verify_json(&devnet, &handle).await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["outcome"], "verified");
    assert_eq!(json["did"], valid.as_str());
    assert_eq!(json["handle"], handle.as_str());
    assert_eq!(json["pds"], devnet.info().pds_url.as_str());
    assert_eq!(
        json["record"]["inboxId"].as_str(),
        devnet.linked_inbox(&valid).as_deref()
    );
    assert!(json["record"]["cid"].as_str().unwrap().starts_with("bafy"));
    assert!(json["commit"]["rev"].is_string());
    assert_eq!(json["installationKey"].as_str().unwrap().len(), 64);

    // Valid, by DID, human output: the verified handle is shown, exit 0.
    let (code, stdout, _) = verify(&devnet, &valid, &[]).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&handle) && stdout.contains("verdict VERIFIED"),
        "{stdout}"
    );

    // Forged and revoked: exit 1 with the reason.
    let (code, json) = verify_json(&devnet, &forged).await;
    assert_eq!(
        (code, json["outcome"].as_str()),
        (1, Some("not_verified")),
        "{json}"
    );
    assert_eq!(json["reason"], "signature_mismatch");
    assert!(json["installationKey"].is_null());
    let (code, json) = verify_json(&devnet, &handle_of(&devnet, &revoked)).await;
    assert_eq!(
        (code, json["reason"].as_str()),
        (1, Some("installation_revoked")),
        "{json}"
    );

    // No record: exit 1, proven absent.
    let (code, json) = verify_json(&devnet, &without).await;
    assert_eq!(
        (code, json["reason"].as_str()),
        (1, Some("no_record")),
        "{json}"
    );

    // Unknown handle and malformed input: exit 2 (bad input, no verdict).
    let (code, json) = verify_json(&devnet, "nobody.devnet.test").await;
    assert_eq!(
        (code, json["outcome"].as_str()),
        (2, Some("error")),
        "{json}"
    );
    assert_eq!(json["reason"], "unknown_handle");
    let (code, json) = verify_json(&devnet, "not a handle").await;
    assert_eq!(
        (code, json["reason"].as_str()),
        (2, Some("bad_input")),
        "{json}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_xmtp_api_is_an_error_not_a_verdict() {
    let devnet = Devnet::start(DevnetConfig::default()).await.unwrap();
    let generated = devnet.generate(1, 1).unwrap();
    let info = devnet.info();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"));
    cmd.args([
        "verify",
        &generated.valid[0],
        "--json",
        "--plc",
        &info.plc_url,
    ])
    .args(["--xmtp-api", &dead_url, "--allow-private-network"])
    .args(["--handle-resolver", &info.handle_resolver_url])
    .env("RUST_LOG", "warn");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{json}");
    assert_eq!(json["reason"], "network");
}
