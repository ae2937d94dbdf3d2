//! The status page at `/`, rendered by a real headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs): its script calls the XRPC methods and shows counts and a lookup.
//! Where no Chromium can be found the test says so loudly and passes without checking.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::process::Command;

use store::{Batch, Change, RecordInput, Status, Store};
use tokio_util::sync::CancellationToken;

const DID: &str = "did:plc:statuspagetest0000000001";
const INBOX: &str = "5a4c1b9f0e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccd";

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CHROMIUM").map(PathBuf::from),
        Some(PathBuf::from("/usr/bin/chromium")),
        Some(PathBuf::from("/usr/bin/chromium-browser")),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// Loads `url` in headless Chromium, lets its scripts run, and returns the resulting DOM.
fn render(chromium: &PathBuf, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_counts_and_looks_up_links_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED: no Chromium found (install Debian's `chromium` or set CHROMIUM); \
             the status page was not checked in a browser"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("index.sqlite")).unwrap();
    store
        .writer()
        .apply(Batch::of(vec![
            Change::PutRecord {
                did: testkit::ids::did(DID),
                rev: None,
                record: RecordInput {
                    cid: testkit::ids::cid("bafyreistatuspage"),
                    inbox_id: INBOX.into(),
                    verification_signature: "c2lnbmF0dXJl".into(),
                    created_at: "2026-01-01T00:00:00.000Z".into(),
                    malformed: None,
                },
            },
            Change::Verdict {
                did: testkit::ids::did(DID),
                record_cid: testkit::ids::cid("bafyreistatuspage"),
                status: Status::Verified,
                reason: None,
                installation_key: Some("ab".repeat(32)),
            },
            Change::Handle {
                did: testkit::ids::did(DID),
                handle: Some(testkit::ids::handle("status.example.com")),
            },
        ]))
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let state = xrpc::AppState::new(store.reader(), appview::server::VERSION);
    let server = tokio::spawn(appview::server::serve_on(listener, state, shutdown.clone()));

    let by_handle = {
        let (c, u) = (chromium.clone(), format!("{base}/?q=status.example.com"));
        tokio::task::spawn_blocking(move || render(&c, &u))
            .await
            .unwrap()
    };
    assert!(
        by_handle.contains(r#"<td id="count-verified">1</td>"#),
        "{by_handle}"
    );
    assert!(
        by_handle.contains(INBOX),
        "lookup by handle shows the inbox: {by_handle}"
    );
    assert!(by_handle.contains(DID), "{by_handle}");
    assert!(
        by_handle.contains(r#"<code class="verified">verified</code>"#),
        "{by_handle}"
    );

    let by_inbox = {
        let (c, u) = (chromium.clone(), format!("{base}/?q={INBOX}"));
        tokio::task::spawn_blocking(move || render(&c, &u))
            .await
            .unwrap()
    };
    assert!(
        by_inbox.contains(DID),
        "lookup by inbox shows the DID: {by_inbox}"
    );

    let unknown = {
        let (c, u) = (chromium.clone(), format!("{base}/?q=nobody.example.com"));
        tokio::task::spawn_blocking(move || render(&c, &u))
            .await
            .unwrap()
    };
    assert!(unknown.contains("ActorNotFound"), "{unknown}");

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
