//! XRPC parameters and cursors, through the real router over a small seeded index: every
//! query string at every method answers a client error or a success in XRPC JSON, never a
//! 5xx and never a panic (percent-decoding, repeated and odd parameters, identifiers,
//! limits, `listLinks` cursors).
//!
//! Input: first byte picks the path (the query methods, `_health`, `did.json`), the rest is
//! the raw query string.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use store::{Batch, Change, RecordInput, Status, Store};
use tower::ServiceExt as _;

struct World {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    _store: Store,
    _dir: tempfile::TempDir,
}

/// The record CID of inbox `n` (a CID by the syntax rules).
fn cid(n: u32) -> syntax::Cid {
    syntax::Cid::parse(&format!("bafyreifuzz{n}")).expect("cid")
}

fn put(did: &syntax::Did, inbox: u32) -> Change {
    Change::PutRecord {
        did: did.clone(),
        rev: None,
        record: RecordInput {
            cid: cid(inbox),
            inbox_id: format!("{inbox:064x}"),
            verification_signature: "c2ln".to_owned(),
            created_at: "2026-01-01T00:00:00.000Z".to_owned(),
            malformed: None,
        },
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("index.sqlite")).expect("store");
        let mut changes = Vec::new();
        for (i, name) in ["alice", "bob", "carol", "dave"].iter().enumerate() {
            let did = syntax::Did::parse(&format!("did:plc:{name}")).expect("did");
            changes.push(put(&did, u32::try_from(i % 2).unwrap_or(0) + 1));
            changes.push(Change::Handle {
                did: did.clone(),
                handle: Some(syntax::Handle::parse(&format!("{name}.test")).expect("handle")),
            });
            if i != 3 {
                changes.push(Change::Verdict {
                    did,
                    record_cid: cid(u32::try_from(i % 2).unwrap_or(0) + 1),
                    status: if i == 2 {
                        Status::Invalid
                    } else {
                        Status::Verified
                    },
                    reason: (i == 2).then(|| "signature does not verify".to_owned()),
                    installation_key: (i != 2).then(|| "ab".repeat(32)),
                });
            }
        }
        rt.block_on(store.writer().apply(Batch {
            changes,
            cursor: Some(1),
            stats: Default::default(),
        }))
        .expect("seed");
        let state = xrpc::AppState::new(store.reader(), "fuzz")
            .with_service_did("did:web:appview.fuzz.example");
        let router = xrpc::router(state);
        World {
            rt,
            router,
            _store: store,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, query)) = data.split_first() else {
        return;
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    let methods = xrpc::QUERY_METHODS;
    let path = match usize::from(pick) % (methods.len() + 2) {
        i if i < methods.len() => format!("/xrpc/{}", methods[i]),
        i if i == methods.len() => "/xrpc/_health".to_owned(),
        _ => "/.well-known/did.json".to_owned(),
    };
    // Only what an HTTP server would hand to the router: a syntactically valid URI.
    let Ok(uri) = format!("{path}?{query}").parse::<http::Uri>() else {
        return;
    };
    let w = world();
    let Ok(req) = Request::get(uri).body(Body::empty()) else {
        return;
    };
    let resp =
        w.rt.block_on(w.router.clone().oneshot(req))
            .unwrap_or_else(|e| match e {});
    let status = resp.status();
    assert!(!status.is_server_error(), "{status} for {path}?{query}");
    if status != StatusCode::OK && path.starts_with("/xrpc/") {
        let body =
            w.rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 20))
                .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("an XRPC error is JSON");
        assert!(
            json.get("error").and_then(|e| e.as_str()).is_some(),
            "{json}"
        );
    }
});
