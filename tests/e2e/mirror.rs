//! `run --upstream`: a mirror converges to its upstream, believes nothing it is told (every
//! link is proven again from the PDS and the XMTP API), survives restarts on both sides, and
//! falls back to the relay when the upstream is gone.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::harness::{Env, wait_until};
use super::upstream::{FakeUpstream, Mirror, Script, claimed_view, verified_dids};

fn upstream_base(env: &Env) -> String {
    env.app.as_ref().unwrap().base.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_converges_to_the_upstreams_verified_set() {
    let env = Env::start().await;
    let alice = env.devnet.create_user("alice").unwrap();
    env.devnet.link_inbox(&alice.did).unwrap();
    let mallory = env.devnet.create_user("mallory").unwrap();
    env.devnet.forge_link(&mallory.did).unwrap();
    env.wait_status(&alice.did, "verified").await;
    env.wait_status(&mallory.did, "invalid").await;

    let db = env.dir.path().join("mirror.sqlite");
    let m = Mirror::start(&env, db, &upstream_base(&env), Duration::from_secs(10)).await;
    m.wait_status(&alice.did, "verified").await;
    let bad = m.wait_status(&mallory.did, "invalid").await;
    assert_eq!(bad["reason"], "signature_mismatch", "{bad}");
    // Handles are verified both ways by the mirror itself, so lookups by handle work too.
    wait_until("the mirror verifies alice's handle", || async {
        m.link(&alice.handle)
            .await
            .is_some_and(|l| l["did"] == alice.did.as_str())
    })
    .await;

    // A change made after the mirror started reaches it too.
    let carol = env.devnet.create_user("carol").unwrap();
    env.devnet.link_inbox(&carol.did).unwrap();
    env.wait_status(&carol.did, "verified").await;
    let t0 = Instant::now();
    m.wait_status(&carol.did, "verified").await;
    eprintln!("mirror caught up {:?} after the upstream", t0.elapsed());

    assert_eq!(
        verified_dids(&m.base).await,
        verified_dids(&upstream_base(&env)).await
    );

    // A removal reaches it as well: the listing no longer names carol, the mirror looks,
    // and the PDS proves the record gone.
    env.devnet
        .delete_record(&carol.did, "org.xmtp.inbox", "self")
        .unwrap();
    env.wait_gone(&carol.did).await;
    wait_until("the mirror drops carol", || async {
        m.link(&carol.did).await.is_none()
    })
    .await;
    assert_eq!(verified_dids(&m.base).await, vec![alice.did.clone()]);
    assert!(!m.status().failed_over());
    // getStatus says it is a mirror, of which upstream, and that it still follows it.
    let (_, status) = m.xrpc("org.xmtp.identity.getStatus", &[]).await;
    let mirror = &status["mirror"];
    assert_eq!(mirror["upstream"], upstream_base(&env), "{status}");
    assert_eq!(mirror["connected"], true, "{status}");
    assert_eq!(mirror["failedOver"], false, "{status}");
    assert_eq!(mirror["goneSeconds"], 0, "{status}");
    assert!(
        mirror["upstreamSeq"].as_i64().is_some_and(|s| s > 0),
        "{status}"
    );
    // The upstream itself is no mirror.
    let (_, own) = env.xrpc("org.xmtp.identity.getStatus", &[]).await;
    assert!(own.get("mirror").is_none(), "{own}");
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_upstream_cannot_make_the_mirror_serve_a_wrong_answer() {
    let env = Env::start().await;
    // No record at all.
    let nobody = env.devnet.create_user("nobody").unwrap();
    // A real link, claimed with another inbox.
    let alice = env.devnet.create_user("alice").unwrap();
    let (alice_inbox, _) = env.devnet.link_inbox(&alice.did).unwrap();
    // A forged record, claimed verified.
    let mallory = env.devnet.create_user("mallory").unwrap();
    env.devnet.forge_link(&mallory.did).unwrap();
    // A link since deleted, replayed as the old verified view.
    let bob = env.devnet.create_user("bob").unwrap();
    env.devnet.link_inbox(&bob.did).unwrap();
    env.wait_status(&bob.did, "verified").await;
    let old_bob = env.link(&bob.did).await.unwrap();
    env.devnet
        .delete_record(&bob.did, "org.xmtp.inbox", "self")
        .unwrap();
    env.wait_gone(&bob.did).await;

    let wrong_inbox = "f".repeat(64);
    let script = Arc::new(Mutex::new(Script {
        links: vec![
            claimed_view(&nobody.did, &"e".repeat(64), "bafyreinothing"),
            claimed_view(&alice.did, &wrong_inbox, "bafyreiforged"),
            claimed_view(&mallory.did, &"d".repeat(64), "bafyreiforged2"),
            old_bob.clone(),
            serde_json::json!({"did": "not a did", "status": "verified"}),
        ],
        ..Script::default()
    }));
    let liar = FakeUpstream::start("127.0.0.1:0".parse().unwrap(), script.clone()).await;
    let db = env.dir.path().join("mirror.sqlite");
    let m = Mirror::start(&env, db, &liar.base(), Duration::from_secs(300)).await;
    // The stream lies too, once the mirror listens.
    wait_until("the mirror subscribes", || async {
        !script.lock().unwrap().cursors.is_empty()
    })
    .await;
    liar.push("verified", &nobody.did);
    liar.push("created", &bob.did);
    liar.push("teleported", &alice.did);

    let a = m.wait_status(&alice.did, "verified").await;
    assert_eq!(
        a["inboxId"],
        alice_inbox.as_str(),
        "the PDS's inbox, not the claimed one"
    );
    let bad = m.wait_status(&mallory.did, "invalid").await;
    assert_eq!(bad["reason"], "signature_mismatch", "{bad}");
    m.wait_resyncs_done().await;

    for (who, did) in [("nobody", &nobody.did), ("bob", &bob.did)] {
        let (status, body) = m
            .xrpc(
                "org.xmtp.identity.resolveActor",
                &[("actor", did), ("includeUnverified", "true")],
            )
            .await;
        assert_eq!(status, 400, "{who}: {body}");
        assert!(
            body["error"] == "ActorNotFound" || body["error"] == "LinkNotFound",
            "{who}: {body}"
        );
    }
    let (status, body) = m
        .xrpc(
            "org.xmtp.identity.resolveInbox",
            &[("inboxId", &wrong_inbox)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(verified_dids(&m.base).await, vec![alice.did.clone()]);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_resumes_from_its_cursor_and_survives_an_upstream_restart() {
    let env = Env::start().await;
    let users: Vec<_> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|h| {
            let u = env.devnet.create_user(h).unwrap();
            env.devnet.link_inbox(&u.did).unwrap();
            u
        })
        .collect();
    let script = Arc::new(Mutex::new(Script {
        links: vec![claimed_view(&users[0].did, "x", "bafyx")],
        ..Script::default()
    }));
    let up = FakeUpstream::start("127.0.0.1:0".parse().unwrap(), script.clone()).await;
    let addr = up.addr;
    let db = env.dir.path().join("mirror.sqlite");
    let m = Mirror::start(&env, db.clone(), &up.base(), Duration::from_secs(300)).await;
    m.wait_status(&users[0].did, "verified").await;
    wait_until("the mirror subscribes", || async {
        m.status().is_connected()
    })
    .await;
    up.push("created", &users[1].did);
    m.wait_status(&users[1].did, "verified").await;
    wait_until("the seq is saved", || async { m.status().seq() == Some(1) }).await;

    // The mirror stops; a change happens meanwhile; it resumes from seq 1 without listing.
    m.stop().await;
    up.push("created", &users[2].did);
    let listings = script.lock().unwrap().listings;
    let m = Mirror::start(&env, db.clone(), &up.base(), Duration::from_secs(300)).await;
    m.wait_status(&users[2].did, "verified").await;
    {
        let s = script.lock().unwrap();
        assert_eq!(s.cursors.last(), Some(&Some(1)), "{:?}", s.cursors);
        assert_eq!(
            s.listings, listings,
            "a bootstrapped mirror does not list again"
        );
    }

    // The upstream goes away and comes back on the same address; the mirror follows again.
    up.kill().await;
    wait_until("the mirror sees the upstream gone", || async {
        !m.status().is_connected()
    })
    .await;
    let up = FakeUpstream::start(addr, script.clone()).await;
    wait_until("the mirror reconnects", || async {
        m.status().is_connected()
    })
    .await;
    up.push("updated", &users[3].did);
    m.wait_status(&users[3].did, "verified").await;
    assert_eq!(script.lock().unwrap().cursors.last(), Some(&Some(2)));
    assert!(!m.status().failed_over());
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirror_lists_again_after_outdated_cursor_and_forgets_a_future_cursor() {
    let env = Env::start().await;
    let users: Vec<_> = ["alice", "bob", "carol"]
        .iter()
        .map(|h| {
            let u = env.devnet.create_user(h).unwrap();
            env.devnet.link_inbox(&u.did).unwrap();
            u
        })
        .collect();
    let script = Arc::new(Mutex::new(Script {
        links: vec![claimed_view(&users[0].did, "x", "bafyx")],
        ..Script::default()
    }));
    let up = FakeUpstream::start("127.0.0.1:0".parse().unwrap(), script.clone()).await;
    let addr = up.addr;
    let db = env.dir.path().join("mirror.sqlite");
    let m = Mirror::start(&env, db, &up.base(), Duration::from_secs(300)).await;
    m.wait_status(&users[0].did, "verified").await;
    up.push("created", &users[1].did);
    m.wait_status(&users[1].did, "verified").await;
    wait_until("the seq is saved", || async { m.status().seq() == Some(1) }).await;
    let listings = script.lock().unwrap().listings;

    // Reconnected past the upstream's window: only a new listing can bring carol.
    {
        let mut s = script.lock().unwrap();
        s.links.push(claimed_view(&users[2].did, "x", "bafyx"));
        s.info_on_connect = Some("OutdatedCursor".into());
    }
    up.kill().await;
    let up = FakeUpstream::start(addr, script.clone()).await;
    m.wait_status(&users[2].did, "verified").await;
    assert!(script.lock().unwrap().listings > listings);
    assert_eq!(script.lock().unwrap().cursors.last(), Some(&Some(1)));

    // The upstream's sequence went back (FutureCursor): the mirror forgets its seq and
    // follows live again (and lists, to cover what it cannot replay).
    script.lock().unwrap().error_on_connect = Some("FutureCursor".into());
    up.kill().await;
    let _up = FakeUpstream::start(addr, script.clone()).await;
    wait_until("the mirror reconnects without a cursor", || async {
        script.lock().unwrap().cursors.last() == Some(&None)
    })
    .await;
    wait_until("the mirror follows again", || async {
        m.status().is_connected()
    })
    .await;
    assert_eq!(m.status().seq(), None);
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_fails_over_to_the_relay_when_the_upstream_is_gone() {
    let env = Env::start().await;
    // Made before the mirror exists: only the failover's backfill can bring it.
    let early = env.devnet.create_user("early").unwrap();
    env.devnet.link_inbox(&early.did).unwrap();

    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let db = env.dir.path().join("mirror.sqlite");
    let m = Mirror::start(&env, db, &format!("http://{gone}"), Duration::from_secs(2)).await;
    wait_until("the mirror fails over", || async {
        m.status().failed_over()
    })
    .await;
    m.wait_status(&early.did, "verified").await;

    let late = env.devnet.create_user("late").unwrap();
    env.devnet.link_inbox(&late.did).unwrap();
    m.wait_status(&late.did, "verified").await;
    let (_, status) = m.xrpc("org.xmtp.identity.getStatus", &[]).await;
    assert_eq!(status["firehose"]["connected"], true, "{status}");
    assert_eq!(status["mirror"]["failedOver"], true, "{status}");
    assert_eq!(status["mirror"]["connected"], false, "{status}");
    m.stop().await;
}

fn summary(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    format!(
        "n={} median={:.0} ms p90={:.0} ms max={:.0} ms",
        ms.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    )
}

/// Benchmark (BENCHMARKS.md): from an upstream change to the mirror serving it verified,
/// re-verification included. `cargo nextest run -p e2e --run-ignored only mirror_latency
/// --no-capture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn mirror_latency() {
    let env = Env::start().await;
    let script = Arc::new(Mutex::new(Script::default()));
    let fake = FakeUpstream::start("127.0.0.1:0".parse().unwrap(), script.clone()).await;
    let streamed = Mirror::start(
        &env,
        env.dir.path().join("m1.sqlite"),
        &fake.base(),
        Duration::from_secs(300),
    )
    .await;
    wait_until("the mirror subscribes", || async {
        streamed.status().is_connected()
    })
    .await;
    let listed = Mirror::start(
        &env,
        env.dir.path().join("m2.sqlite"),
        &upstream_base(&env),
        Duration::from_secs(10),
    )
    .await;
    let (mut relay_ms, mut stream_ms, mut poll_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..20 {
        let u = env.devnet.create_user(&format!("u{i}")).unwrap();
        let t_link = Instant::now();
        env.devnet.link_inbox(&u.did).unwrap();
        env.wait_status(&u.did, "verified").await;
        relay_ms.push(t_link.elapsed().as_secs_f64() * 1000.0);
        let t1 = Instant::now();
        listed.wait_status(&u.did, "verified").await;
        poll_ms.push(t1.elapsed().as_secs_f64() * 1000.0);
        let t0 = Instant::now();
        fake.push("created", &u.did);
        streamed.wait_status(&u.did, "verified").await;
        stream_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    eprintln!(
        "baseline, relay: record written -> upstream serves verified: {}",
        summary(relay_ms)
    );
    eprintln!(
        "subscribeLinks hint -> mirror serves verified: {}",
        summary(stream_ms)
    );
    eprintln!(
        "upstream serves verified -> listing mirror serves verified (poll 1 s): {}",
        summary(poll_ms)
    );
    streamed.stop().await;
    listed.stop().await;
}
