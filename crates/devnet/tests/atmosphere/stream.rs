//! subscribeRepos: replay, live tail, cursor errors and stream faults.
use std::time::Duration;

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use wire::frame::Frame;

use crate::support::*;

#[tokio::test]
async fn replay_from_a_cursor_returns_exactly_the_events_after_it() {
    let devnet = devnet().await;
    devnet.create_user("replay").unwrap();
    devnet.emit_noise(10).unwrap();
    devnet.relay().skip_seq(5);
    devnet.emit_noise(10).unwrap();
    let all: Vec<i64> = {
        let mut socket = connect(&devnet, Some(0)).await;
        read_until(&mut socket, devnet.relay().current_seq())
            .await
            .iter()
            .map(|frame| frame.seq().unwrap())
            .collect()
    };
    assert_eq!(all.len(), 23, "identity + account + genesis + 20 commits");
    assert!(
        all.windows(2).any(|pair| pair[1] - pair[0] == 6),
        "the injected gap"
    );
    for cut in [all[0], all[7], all[12], all[21]] {
        let mut socket = connect(&devnet, Some(cut)).await;
        let seqs: Vec<i64> = read_until(&mut socket, devnet.relay().current_seq())
            .await
            .iter()
            .map(|frame| frame.seq().unwrap())
            .collect();
        let expected: Vec<i64> = all.iter().copied().filter(|seq| *seq > cut).collect();
        assert_eq!(seqs, expected, "replay after {cut}");
    }
}

#[tokio::test]
async fn live_tail_follows_replay_without_gaps() {
    let devnet = devnet().await;
    devnet.create_user("tail").unwrap();
    let mut socket = connect(&devnet, None).await;
    // Wait until the session is subscribed before publishing.
    while devnet.relay().subscriber_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let first = devnet.relay().current_seq();
    devnet.emit_noise(5).unwrap();
    let seqs: Vec<i64> = read_until(&mut socket, devnet.relay().current_seq())
        .await
        .iter()
        .map(|frame| frame.seq().unwrap())
        .collect();
    assert_eq!(seqs, ((first + 1)..=(first + 5)).collect::<Vec<_>>());
}

#[tokio::test]
async fn future_cursor_gets_an_error_frame_then_close() {
    let devnet = devnet().await;
    devnet.create_user("future").unwrap();
    let mut socket = connect(&devnet, Some(devnet.relay().current_seq() + 100)).await;
    let frame = Frame::decode(&next_frame(&mut socket).await.unwrap()).unwrap();
    match frame {
        Frame::Error(error) => assert_eq!(error.error, "FutureCursor"),
        other => panic!("expected FutureCursor, got {other:?}"),
    }
    assert!(
        next_frame(&mut socket).await.is_none(),
        "closed after the error"
    );
}

#[tokio::test]
async fn outdated_cursor_gets_info_then_the_oldest_event_held() {
    let devnet = devnet_with(10, 4096).await;
    devnet.create_user("outdated").unwrap();
    devnet.emit_noise(20).unwrap();
    let oldest = devnet.relay().oldest_seq().unwrap();
    assert!(oldest > 2);
    let mut socket = connect(&devnet, Some(1)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    match &frames[0] {
        Frame::Info(info) => assert_eq!(info.name, "OutdatedCursor"),
        other => panic!("expected #info OutdatedCursor, got {other:?}"),
    }
    assert_eq!(frames[1].seq(), Some(oldest));
    assert_eq!(frames.len(), 11);
}

#[tokio::test]
async fn drop_after_n_frames_cuts_the_connection_without_close() {
    let devnet = devnet().await;
    devnet.create_user("dropper").unwrap();
    devnet.emit_noise(10).unwrap();
    devnet.relay().set_drop_after(Some(4));
    let mut socket = connect(&devnet, Some(0)).await;
    let mut received = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Binary(_))) => received += 1,
            Some(Ok(Message::Close(_))) => panic!("a polite close instead of a drop"),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break,
        }
    }
    assert_eq!(received, 4);
}

#[tokio::test]
async fn garbage_frames_reach_live_subscribers_and_do_not_decode() {
    let devnet = devnet().await;
    devnet.create_user("garbage").unwrap();
    let mut socket = connect(&devnet, None).await;
    while devnet.relay().subscriber_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    devnet.relay().send_garbage(vec![0xff, 0x00, 0x13]);
    let bytes = next_frame(&mut socket).await.unwrap();
    assert!(Frame::decode(&bytes).unwrap_err().is_fatal());
}

#[tokio::test]
async fn a_consumer_that_does_not_read_gets_consumer_too_slow() {
    let devnet = devnet_with(1000, 2).await;
    devnet.create_user("slow").unwrap();
    let mut socket = connect(&devnet, None).await;
    while devnet.relay().subscriber_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Fill the socket buffers so that the session blocks, then overflow its channel.
    for _ in 0..64 {
        devnet.relay().send_garbage(vec![0u8; 1 << 20]);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    devnet.emit_noise(4).unwrap();
    let mut last = None;
    while let Some(bytes) = next_frame(&mut socket).await {
        last = Some(bytes);
    }
    match Frame::decode(&last.unwrap()).unwrap() {
        Frame::Error(error) => assert_eq!(error.error, "ConsumerTooSlow"),
        other => panic!("expected ConsumerTooSlow, got {other:?}"),
    }
}

#[tokio::test]
async fn a_reset_relay_answers_future_cursor_to_old_cursors() {
    let devnet = devnet().await;
    devnet.create_user("amnesia").unwrap();
    devnet.emit_noise(5).unwrap();
    let old_cursor = devnet.relay().current_seq();
    assert_eq!(devnet.relay().reset() as i64, old_cursor);
    assert_eq!(devnet.relay().current_seq(), 0);
    devnet.emit_noise(2).unwrap();
    let mut socket = connect(&devnet, Some(old_cursor)).await;
    match Frame::decode(&next_frame(&mut socket).await.unwrap()).unwrap() {
        Frame::Error(error) => assert_eq!(error.error, "FutureCursor"),
        other => panic!("expected FutureCursor, got {other:?}"),
    }
    let mut socket = connect(&devnet, Some(0)).await;
    let seqs: Vec<i64> = read_until(&mut socket, 2)
        .await
        .iter()
        .map(|frame| frame.seq().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2]);
}

#[tokio::test]
async fn a_stall_delays_frames_and_disconnect_all_cuts_subscribers() {
    let devnet = devnet().await;
    devnet.create_user("stalled").unwrap();
    let mut socket = connect(&devnet, None).await;
    while devnet.relay().subscriber_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    devnet.relay().stall_for(Duration::from_millis(300));
    let started = std::time::Instant::now();
    devnet.emit_noise(1).unwrap();
    assert!(next_frame(&mut socket).await.is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    devnet.relay().disconnect_all();
    match tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(_))) => panic!("a polite close instead of a drop"),
        Some(Ok(other)) => panic!("unexpected {other:?}"),
        None | Some(Err(_)) => {}
    }
}

#[tokio::test]
async fn a_lost_commit_breaks_the_chain_the_consumer_sees() {
    let devnet = devnet().await;
    let user = devnet.create_user("gap").unwrap();
    let start = devnet.relay().current_seq();
    let genesis_rev = devnet.relay().repo(&user.did).unwrap().rev;
    devnet.relay().lose_next_commits(1);
    let value = serde_json::json!({"$type": "app.bsky.feed.post", "text": "lost"});
    let lost = devnet
        .pds()
        .create_record(&user.did, "app.bsky.feed.post", "lost", value)
        .unwrap();
    assert_eq!(lost.seq, 0, "never sequenced");
    let kept = devnet.emit_noise(1).unwrap();
    let mut socket = connect(&devnet, Some(start)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    assert_eq!(frames.len(), 1, "only the commit after the lost one");
    let Frame::Commit(commit) = &frames[0] else {
        panic!("expected a commit")
    };
    assert_eq!(commit.seq, kept[0].seq);
    // `since` names the lost commit, not the genesis commit the consumer last saw.
    assert_eq!(commit.since.as_deref(), Some(lost.rev.as_str()));
    assert_ne!(commit.since.as_deref(), Some(genesis_rev.as_str()));
}
