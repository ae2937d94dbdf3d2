//! Faults never lose data or turn links invalid: a restart resumes from the saved cursor,
//! and an XMTP API outage keeps links pending until the API returns.

use std::time::Duration;

use super::harness::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_cursor_and_misses_nothing() {
    let mut env = Env::start().await;
    let early = env.devnet.create_user("early").unwrap();
    env.devnet.link_inbox(&early.did).unwrap();
    env.wait_status(&early.did, "verified").await;

    env.stop_app().await;
    // Made while the AppView is down: only the relay's replay from our cursor brings these.
    let during = env.devnet.create_user("during").unwrap();
    env.devnet.link_inbox(&during.did).unwrap();
    env.devnet.emit_noise(50).unwrap();

    env.start_app().await;
    env.wait_status(&during.did, "verified").await;
    env.wait_status(&early.did, "verified").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xmtp_outage_keeps_links_pending_until_the_api_returns() {
    let env = Env::start().await;
    env.devnet.xmtp().set_down(true);
    let user = env.devnet.create_user("erin").unwrap();
    env.devnet.link_inbox(&user.did).unwrap();

    env.wait_status(&user.did, "pending").await;
    // Several verifier rounds fail on transport; none may turn the link invalid.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let link = env.link(&user.did).await.unwrap();
        assert_eq!(link["status"], "pending", "{link}");
    }

    env.devnet.xmtp().set_down(false);
    env.wait_status(&user.did, "verified").await;
}
