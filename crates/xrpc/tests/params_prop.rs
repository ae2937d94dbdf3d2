//! Property test: random query strings at every method — repeated, empty, odd and overlong
//! parameters, broken percent-encoding, unicode — never get a 500 or a panic, and every
//! refusal is an XRPC error body.

use axum::body::Body;
use axum::http::{Request, Uri};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use store::Store;
use tower::ServiceExt;
use xrpc::AppState;

use crate::support::seed::{inbox, seed};

/// Parameter names: every real one, a near miss and a random one.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("actor".to_owned()),
        Just("actors".to_owned()),
        Just("inboxId".to_owned()),
        Just("inboxIds".to_owned()),
        Just("includeUnverified".to_owned()),
        Just("limit".to_owned()),
        Just("cursor".to_owned()),
        Just("status".to_owned()),
        Just("Actor".to_owned()),
        Just(String::new()),
        "[a-zA-Z%+=\\[\\]]{1,12}",
    ]
}

/// Values: plausible ones, edge numbers, raw junk and long strings.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("alice.test".to_owned()),
        Just("did:plc:alice".to_owned()),
        Just("did:web:example.com%3A8080".to_owned()),
        Just(inbox(1)),
        Just(inbox(1).to_uppercase()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("all".to_owned()),
        Just("invalid".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("1000".to_owned()),
        Just("1001".to_owned()),
        Just("99999999999999999999".to_owned()),
        Just("%".to_owned()),
        Just("%zz".to_owned()),
        Just("%ff%fe".to_owned()),
        Just("%00".to_owned()),
        Just("%F0%9F%A6%80".to_owned()),
        Just("a=b=c".to_owned()),
        Just("+++".to_owned()),
        "[ -~]{0,40}",
        "\\PC{0,20}",
        "[a-z0-9.:%-]{200,3000}",
        (0usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
}

/// Keeps the characters a request target may hold raw; encodes the rest.
fn to_target(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_graphic()
            && !matches!(
                c,
                '#' | '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}'
            )
        {
            out.push(c);
        } else {
            for b in c.to_string().bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// A query string of 0..12 pairs, sometimes with stray separators.
fn query() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((name(), value(), any::<bool>()), 0..12),
        prop_oneof![Just(""), Just("&"), Just("&&"), Just("=")],
    )
        .prop_map(|(pairs, stray)| {
            let mut q = String::from(stray);
            for (i, (k, v, bare)) in pairs.into_iter().enumerate() {
                if i > 0 {
                    q.push('&');
                }
                q.push_str(&k);
                if !bare {
                    q.push('=');
                    q.push_str(&v);
                }
            }
            to_target(&q)
        })
}

fn method() -> impl Strategy<Value = &'static str> {
    let mut methods: Vec<&'static str> = xrpc::QUERY_METHODS.to_vec();
    methods.push("_health");
    methods.push("org.xmtp.identity.nope");
    prop::sample::select(methods)
}

#[test]
fn random_query_strings_never_get_a_500_or_a_panic() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("index.sqlite")).unwrap();
    rt.block_on(seed(&store));
    let app = xrpc::router(AppState::new(store.reader(), "prop"));

    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&(method(), query()), |(method, query)| {
            let target = format!("/xrpc/{method}?{query}");
            let Ok(uri) = target.parse::<Uri>() else {
                // Not a request target hyper would pass on: nothing to serve.
                return Ok(());
            };
            let request = Request::get(uri).body(Body::empty()).unwrap();
            let response = rt.block_on(app.clone().oneshot(request)).unwrap();
            let status = response.status();
            let body = rt
                .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
                .unwrap();
            prop_assert!(
                !status.is_server_error(),
                "{status} for {target}: {}",
                String::from_utf8_lossy(&body)
            );
            let json: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| TestCaseError::fail(format!("{target}: not JSON: {e}")))?;
            if !status.is_success() {
                prop_assert!(json["error"].is_string(), "{target}: {json}");
                prop_assert!(json["message"].is_string(), "{target}: {json}");
            }
            Ok(())
        })
        .unwrap();
}
