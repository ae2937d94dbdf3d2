//! Shared helpers: devnets, the WebSocket client, and the consumer-side commit checks.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use devnet::atmosphere::RelayConfig;
use devnet::world::{Devnet, DevnetConfig};
use futures_util::StreamExt;
use repo::{CarLimits, CarSlice, Commit, Op, OpAction, PartialMst, PublicKey};
use tokio_tungstenite::tungstenite::Message;
use wire::frame::{Commit as CommitFrame, Frame};

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn devnet_with(window: usize, send_buffer: usize) -> Devnet {
    let config = DevnetConfig {
        relay: RelayConfig {
            window,
            send_buffer,
        },
        ..DevnetConfig::default()
    };
    Devnet::start(config).await.unwrap()
}

pub async fn devnet() -> Devnet {
    devnet_with(100_000, 4096).await
}

pub async fn connect(devnet: &Devnet, cursor: Option<i64>) -> Socket {
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
pub async fn next_frame(socket: &mut Socket) -> Option<Vec<u8>> {
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
pub async fn read_until(socket: &mut Socket, until: i64) -> Vec<Frame> {
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

pub async fn get_json(url: impl reqwest::IntoUrl) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The DID document the PLC directory serves for `did`.
pub async fn plc_document(devnet: &Devnet, did: &str) -> serde_json::Value {
    get_json(format!("{}/{did}", devnet.info().plc_url)).await
}

pub async fn signing_key(devnet: &Devnet, did: &str) -> PublicKey {
    let doc = plc_document(devnet, did).await;
    let method = doc["verificationMethod"]
        .as_array()
        .unwrap()
        .iter()
        .find(|method| method["id"].as_str().unwrap().ends_with("#atproto"))
        .unwrap();
    PublicKey::from_multibase(method["publicKeyMultibase"].as_str().unwrap()).unwrap()
}

/// Every check a Sync 1.1 consumer makes on a `#commit`, with the `repo` crate.
pub fn check_commit(frame: &CommitFrame, key: &PublicKey) -> Result<(), String> {
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

pub fn verify_commit(frame: &CommitFrame, key: &PublicKey) {
    if let Err(error) = check_commit(frame, key) {
        panic!("commit {} of {} rejected: {error}", frame.seq, frame.repo);
    }
}

#[derive(Default)]
pub struct Checked {
    pub commits: usize,
    pub actions: BTreeSet<String>,
}

/// Verifies every commit of a stream, with keys fetched from the PLC directory whenever an
/// `#identity` announces a (possibly new) identity.
pub async fn check_stream(devnet: &Devnet, frames: &[Frame], checked: &mut Checked) {
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
