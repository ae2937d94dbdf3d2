//! End-to-end checks of the simulated Atmosphere over real sockets: a WebSocket client reads
//! the relay, and every commit is verified with the `repo` crate (signature by the key in the
//! PLC document, CAR block hashes, MST values, Sync 1.1 inversion to `prevData`); record
//! proofs from the PDS verify; cursors, windows and faults behave as the sync spec says.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use devnet::atmosphere::{Forgery, RelayConfig, Write};
use devnet::world::{Devnet, DevnetConfig, INBOX_COLLECTION, INBOX_RKEY};
use firehose::frame::{Commit as CommitFrame, Frame};
use futures_util::StreamExt;
use repo::{CarLimits, CarSlice, Cid, Commit, Op, OpAction, PartialMst, PublicKey};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn devnet_with(window: usize, send_buffer: usize) -> Devnet {
    let config = DevnetConfig {
        relay: RelayConfig {
            window,
            send_buffer,
        },
        ..DevnetConfig::default()
    };
    Devnet::start(config).await.unwrap()
}

async fn devnet() -> Devnet {
    devnet_with(100_000, 4096).await
}

async fn connect(devnet: &Devnet, cursor: Option<i64>) -> Socket {
    let mut url = format!(
        "{}/xrpc/com.atproto.sync.subscribeRepos",
        devnet.info().relay_url
    );
    if let Some(cursor) = cursor {
        url.push_str(&format!("?cursor={cursor}"));
    }
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next binary frame, or None when the stream ends (close or abrupt drop).
async fn next_frame(socket: &mut Socket) -> Option<Vec<u8>> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("relay went silent");
        match message {
            Some(Ok(Message::Binary(bytes))) => return Some(bytes.to_vec()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Reads decoded frames until one with `seq >= until`.
async fn read_until(socket: &mut Socket, until: i64) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(bytes) = next_frame(socket).await {
        let frame = Frame::decode(&bytes).unwrap();
        let done = frame.seq().is_some_and(|seq| seq >= until);
        frames.push(frame);
        if done {
            break;
        }
    }
    frames
}

async fn signing_key(devnet: &Devnet, did: &str) -> PublicKey {
    let url = format!("{}/{did}", devnet.info().plc_url);
    let doc: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let method = doc["verificationMethod"]
        .as_array()
        .unwrap()
        .iter()
        .find(|method| method["id"].as_str().unwrap().ends_with("#atproto"))
        .unwrap();
    PublicKey::from_multibase(method["publicKeyMultibase"].as_str().unwrap()).unwrap()
}

/// Every check a Sync 1.1 consumer makes on a `#commit`, with the `repo` crate.
fn check_commit(frame: &CommitFrame, key: &PublicKey) -> Result<(), String> {
    let car = CarSlice::parse(&frame.blocks, &CarLimits::COMMIT).map_err(|e| e.to_string())?;
    if car.roots().first() != Some(&frame.commit) {
        return Err("first root is not the commit".into());
    }
    let block = car.get(&frame.commit).ok_or("commit block missing")?;
    let commit = Commit::decode(block).map_err(|e| e.to_string())?;
    if commit.did != frame.repo || commit.rev != frame.rev || commit.version != 3 {
        return Err("commit fields differ from the frame".into());
    }
    commit.verify(key).map_err(|e| format!("signature: {e}"))?;
    let ops: Vec<Op<'_>> = frame
        .ops
        .iter()
        .map(|op| Op {
            action: OpAction::parse(&op.action).unwrap(),
            path: &op.path,
            cid: op.cid,
            prev: op.prev,
        })
        .collect();
    let mut tree = PartialMst::load(commit.data, &car).map_err(|e| e.to_string())?;
    for op in &ops {
        if tree.get(op.path).map_err(|e| e.to_string())? != op.cid {
            return Err(format!("MST value of {} differs from the op", op.path));
        }
        if let Some(cid) = op.cid
            && car.get(&cid).is_none()
        {
            return Err(format!("record block of {} missing", op.path));
        }
    }
    match frame.prev_data {
        Some(prev_data) => {
            let inverted = repo::mst::invert_ops(&mut tree, &ops).map_err(|e| e.to_string())?;
            if inverted != prev_data {
                return Err("ops do not invert to prevData".into());
            }
        }
        None if frame.since.is_none() && ops.is_empty() => {}
        None => return Err("only the genesis commit may lack prevData".into()),
    }
    Ok(())
}

fn verify_commit(frame: &CommitFrame, key: &PublicKey) {
    if let Err(error) = check_commit(frame, key) {
        panic!("commit {} of {} rejected: {error}", frame.seq, frame.repo);
    }
}

#[derive(Default)]
struct Checked {
    commits: usize,
    actions: BTreeSet<String>,
}

/// Verifies every commit of a stream, with keys fetched from the PLC directory whenever an
/// `#identity` announces a (possibly new) identity.
async fn check_stream(devnet: &Devnet, frames: &[Frame], checked: &mut Checked) {
    let mut keys: HashMap<String, PublicKey> = HashMap::new();
    let mut last_seq = 0;
    for frame in frames {
        let seq = frame.seq().unwrap();
        assert!(seq > last_seq, "seq strictly increases");
        last_seq = seq;
        match frame {
            Frame::Identity(identity) => {
                keys.insert(
                    identity.did.clone(),
                    signing_key(devnet, &identity.did).await,
                );
            }
            Frame::Commit(commit) => {
                if !keys.contains_key(&commit.repo) {
                    let key = signing_key(devnet, &commit.repo).await;
                    keys.insert(commit.repo.clone(), key);
                }
                verify_commit(commit, &keys[&commit.repo]);
                checked
                    .actions
                    .extend(commit.ops.iter().map(|op| op.action.clone()));
                checked.commits += 1;
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn every_relayed_commit_verifies_and_inverts_to_prev_data() {
    let devnet = devnet().await;
    let alice = devnet.create_user("alice").unwrap();
    let bob = devnet.create_user("bob").unwrap();
    devnet.emit_noise(60).unwrap();
    devnet.link_inbox(&alice.did).unwrap();
    devnet.forge_link(&bob.did).unwrap();
    let profile = |name: &str| json!({"$type": "app.bsky.actor.profile", "displayName": name});
    devnet
        .update_record(&alice.did, "app.bsky.actor.profile", "self", profile("A"))
        .unwrap();
    devnet
        .update_record(&alice.did, "app.bsky.actor.profile", "self", profile("B"))
        .unwrap();
    devnet.link_inbox(&alice.did).unwrap(); // an update of org.xmtp.inbox/self
    devnet
        .delete_record(&bob.did, INBOX_COLLECTION, INBOX_RKEY)
        .unwrap();

    let mut checked = Checked::default();
    let mut socket = connect(&devnet, Some(0)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    check_stream(&devnet, &frames, &mut checked).await;

    // After a key rotation, later commits verify with the new key of the PLC document.
    let before_rotation = devnet.relay().current_seq();
    devnet.pds().rotate_key(&bob.did).unwrap();
    devnet.emit_noise(20).unwrap();
    let mut socket = connect(&devnet, Some(before_rotation)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    check_stream(&devnet, &frames, &mut checked).await;

    // 2 genesis + 80 noise + 2 links + 2 profile writes + relink + delete + empty rotation commit.
    assert_eq!(checked.commits, 89);
    assert_eq!(
        checked.actions,
        BTreeSet::from([
            "create".to_owned(),
            "delete".to_owned(),
            "update".to_owned()
        ])
    );
}

async fn get_record_car(
    devnet: &Devnet,
    did: &str,
    collection: &str,
    rkey: &str,
) -> reqwest::Response {
    let url = format!(
        "{}/xrpc/com.atproto.sync.getRecord?did={did}&collection={collection}&rkey={rkey}",
        devnet.info().pds_url
    );
    reqwest::get(url).await.unwrap()
}

/// Verifies a getRecord CAR and returns the record CID it proves (None = proven absent).
async fn verify_proof(devnet: &Devnet, did: &str, bytes: &[u8], path: &str) -> Option<Cid> {
    let car = CarSlice::parse(bytes, &CarLimits::PROOF).unwrap();
    let root = car.roots()[0];
    let commit = Commit::decode(car.get(&root).unwrap()).unwrap();
    assert_eq!(commit.did, did);
    commit.verify(&signing_key(devnet, did).await).unwrap();
    let mut tree = PartialMst::load(commit.data, &car).unwrap();
    let found = tree.get(path).unwrap();
    if let Some(cid) = found {
        repo::check_block(&cid, car.get(&cid).unwrap()).unwrap();
    }
    found
}

#[tokio::test]
async fn get_record_proves_presence_and_absence() {
    let devnet = devnet().await;
    let users: Vec<_> = (0..4)
        .map(|i| devnet.create_user(&format!("prover{i}")).unwrap())
        .collect();
    devnet.emit_noise(80).unwrap();
    let did = &users[1].did;
    devnet.link_inbox(did).unwrap();
    let (cid, _) = devnet
        .pds()
        .record(did, INBOX_COLLECTION, INBOX_RKEY)
        .unwrap()
        .unwrap();

    let present = get_record_car(&devnet, did, INBOX_COLLECTION, INBOX_RKEY).await;
    assert_eq!(
        present.headers()["content-type"],
        "application/vnd.ipld.car"
    );
    let bytes = present.bytes().await.unwrap();
    assert_eq!(
        verify_proof(&devnet, did, &bytes, "org.xmtp.inbox/self").await,
        Some(cid)
    );

    let other = &users[2].did;
    let absent = get_record_car(&devnet, other, INBOX_COLLECTION, INBOX_RKEY).await;
    assert_eq!(absent.status(), 200);
    let bytes = absent.bytes().await.unwrap();
    assert_eq!(
        verify_proof(&devnet, other, &bytes, "org.xmtp.inbox/self").await,
        None
    );

    let missing = get_record_car(
        &devnet,
        "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa",
        INBOX_COLLECTION,
        INBOX_RKEY,
    )
    .await;
    assert_eq!(missing.status(), 400);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "RepoNotFound");

    let url = format!(
        "{}/xrpc/com.atproto.repo.getRecord?repo={}&collection={INBOX_COLLECTION}&rkey=self",
        devnet.info().pds_url,
        users[1].handle
    );
    let json: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(json["cid"], cid.to_string());
    assert_eq!(json["uri"], format!("at://{did}/org.xmtp.inbox/self"));
    assert_eq!(json["value"]["$type"], "org.xmtp.inbox");
}

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
async fn list_repos_by_collection_paginates_without_repeats() {
    let devnet = devnet().await;
    let mut linked = BTreeSet::new();
    for i in 0..23 {
        let user = devnet.create_user(&format!("lister{i}")).unwrap();
        if i % 2 == 0 {
            devnet.link_inbox(&user.did).unwrap();
            linked.insert(user.did);
        }
    }
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!(
            "{}/xrpc/com.atproto.sync.listReposByCollection?collection={INBOX_COLLECTION}&limit=5",
            devnet.info().discovery_url
        );
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
        pages += 1;
        for repo in page["repos"].as_array().unwrap() {
            seen.push(repo["did"].as_str().unwrap().to_owned());
        }
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), linked.len(), "no repeats");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), linked);

    let url = format!(
        "{}/xrpc/com.atproto.sync.listReposByCollection?collection={INBOX_COLLECTION}&limit=2001",
        devnet.info().discovery_url
    );
    assert_eq!(client.get(url).send().await.unwrap().status(), 400);
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
async fn links_are_valid_forged_or_revoked_as_generated() {
    let devnet = devnet().await;
    let generated = devnet.generate(40, 20).unwrap();
    assert_eq!(generated.users.len(), 40);
    assert_eq!(
        (
            generated.valid.len(),
            generated.forged.len(),
            generated.revoked.len()
        ),
        (14, 3, 3)
    );
    let verdict = |did: &str| {
        let (_, record) = devnet
            .pds()
            .record(did, INBOX_COLLECTION, INBOX_RKEY)
            .unwrap()
            .unwrap();
        let inbox = devnet.xmtp().inbox(record["id"].as_str().unwrap()).unwrap();
        let signature = record["verificationSignature"].as_str().unwrap();
        inbox
            .installations
            .iter()
            .any(|key| xmtp::verify_did_signature(did, signature, &key.public_key()))
    };
    assert!(generated.valid.iter().all(|did| verdict(did)));
    assert!(!generated.forged.iter().any(|did| verdict(did)));
    assert!(!generated.revoked.iter().any(|did| verdict(did)));
}

#[tokio::test]
async fn injected_rate_limits_answer_429_with_retry_after() {
    let devnet = devnet().await;
    let user = devnet.create_user("limited").unwrap();
    devnet.pds().set_faults(devnet::atmosphere::HttpFaults {
        latency: Some(Duration::from_millis(5)),
        rate_limit_next: 1,
        retry_after_secs: 3,
        unavailable: false,
    });
    let url = format!(
        "{}/xrpc/com.atproto.sync.getLatestCommit?did={}",
        devnet.info().pds_url,
        user.did
    );
    let limited = reqwest::get(&url).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "3");
    let ok: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(ok["rev"], devnet.relay().repo(&user.did).unwrap().rev);
}

#[tokio::test]
async fn handles_resolve_through_the_pds_and_the_plc_document() {
    let devnet = devnet().await;
    let user = devnet.create_user("carol").unwrap();
    devnet
        .change_handle(&user.did, "caroline.devnet.test")
        .unwrap();
    let info = devnet.info();
    let url = format!(
        "{}/xrpc/com.atproto.identity.resolveHandle?handle=caroline.devnet.test",
        info.handle_resolver_url
    );
    let resolved: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(resolved["did"], user.did);
    let doc: serde_json::Value = reqwest::get(format!("{}/{}", info.plc_url, user.did))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["alsoKnownAs"][0], "at://caroline.devnet.test");
    assert_eq!(doc["service"][0]["serviceEndpoint"], info.pds_url);

    devnet
        .set_account_status(&user.did, false, Some("deleted"))
        .unwrap();
    let gone = reqwest::get(format!("{}/{}", info.plc_url, user.did))
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let line = info.run_command_line();
    assert!(line.contains(&format!("--relay {}", info.relay_url)));
    assert!(line.contains("--allow-private-network"));
}

#[tokio::test]
async fn relay_get_repo_redirects_to_a_full_repo_car_on_the_pds() {
    let devnet = devnet().await;
    let user = devnet.create_user("archive").unwrap();
    devnet.emit_noise(15).unwrap();
    devnet.link_inbox(&user.did).unwrap();
    let url = format!(
        "{}/xrpc/com.atproto.sync.getRepo?did={}",
        devnet.info().discovery_url,
        user.did
    );
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let car = CarSlice::parse(&bytes, &CarLimits::REPO).unwrap();
    let commit = Commit::decode(car.get(&car.roots()[0]).unwrap()).unwrap();
    commit
        .verify(&signing_key(&devnet, &user.did).await)
        .unwrap();
    let mut tree = PartialMst::load(commit.data, &car).unwrap();
    let (cid, _) = devnet
        .pds()
        .record(&user.did, INBOX_COLLECTION, INBOX_RKEY)
        .unwrap()
        .unwrap();
    assert_eq!(tree.get("org.xmtp.inbox/self").unwrap(), Some(cid));
}

#[tokio::test]
async fn a_down_plc_directory_answers_503_until_it_comes_back() {
    let devnet = devnet().await;
    let user = devnet.create_user("outage").unwrap();
    let url = format!("{}/{}", devnet.info().plc_url, user.did);
    devnet.plc().set_faults(devnet::atmosphere::HttpFaults {
        unavailable: true,
        ..Default::default()
    });
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);
    devnet
        .plc()
        .set_faults(devnet::atmosphere::HttpFaults::default());
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
}

#[tokio::test]
async fn live_traffic_moves_the_relay_until_dropped() {
    let devnet = devnet().await;
    devnet.generate(5, 2).unwrap();
    let before = devnet.relay().current_seq();
    let traffic = devnet.start_live_traffic(Duration::from_millis(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(traffic);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = devnet.relay().current_seq();
    assert!(after > before + 10, "{before} -> {after}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(devnet.relay().current_seq(), after, "stopped when dropped");
}

#[tokio::test]
async fn every_forgery_is_rejected_and_the_chain_continues() {
    let devnet = devnet().await;
    let user = devnet.create_user("forger").unwrap();
    devnet.emit_noise(10).unwrap();
    let key = signing_key(&devnet, &user.did).await;
    let start = devnet.relay().current_seq();
    let forgeries = [
        Forgery::WrongSigningKey,
        Forgery::WrongPrevData,
        Forgery::CorruptRecordBlock,
        Forgery::MissingRecordBlock,
        Forgery::MissingMstNodes,
    ];
    for forgery in forgeries {
        let writes = [Write::Create {
            path: "org.xmtp.inbox/self".to_owned(),
            value: json!({"$type": "org.xmtp.inbox", "id": "forged", "verificationSignature": "AA==", "createdAt": "2026-01-01T00:00:00Z"}),
        }];
        devnet
            .pds()
            .publish_forged_commit(&user.did, &writes, forgery)
            .unwrap();
    }
    let genuine = devnet.emit_noise(1).unwrap();
    let mut socket = connect(&devnet, Some(start)).await;
    let frames = read_until(&mut socket, devnet.relay().current_seq()).await;
    assert_eq!(frames.len(), forgeries.len() + 1);
    for (frame, forgery) in frames.iter().zip(forgeries) {
        let Frame::Commit(commit) = frame else {
            panic!("expected a commit")
        };
        let verdict = match forgery {
            // A corrupt block already fails the CAR's hash check.
            Forgery::CorruptRecordBlock => CarSlice::parse(&commit.blocks, &CarLimits::COMMIT)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => check_commit(commit, &key),
        };
        assert!(verdict.is_err(), "{forgery:?} was accepted");
    }
    let Frame::Commit(last) = frames.last().unwrap() else {
        panic!("expected the genuine commit")
    };
    assert_eq!(last.seq, genuine[0].seq);
    let key = signing_key(&devnet, &last.repo).await;
    verify_commit(last, &key);
    assert!(
        devnet
            .pds()
            .record(&user.did, INBOX_COLLECTION, INBOX_RKEY)
            .unwrap()
            .is_none()
    );
}
