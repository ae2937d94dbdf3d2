//! Seeds every fuzz target from the vendored vectors (testdata/): real firehose commits, CAR files, DID
//! documents, XMTP identity updates captured from the real SDK, Sync 1.1 commits built from
//! the MST fixtures (signed with the key the `commit` target trusts), and hand-written
//! handle answers and XRPC queries. Usage: `fuzz-seeds <vectors dir> <corpus dir>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use prost::Message as _;
use repo::{Cid, Commit, Curve, Mst, Op, OpAction, PrivateKey, cbor::json_to_cbor, write_car};
use serde_json::{Value, json};

/// Same key as `fuzz_targets/common/ops.rs`.
const TEST_SIGNING_KEY: [u8; 32] = [0x42; 32];
const SEED_DID: &str = "did:plc:fuzzfuzzfuzzfuzzfuzzfuzz";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Default)]
struct Corpus {
    files: BTreeMap<&'static str, Vec<Vec<u8>>>,
}

impl Corpus {
    fn add(&mut self, target: &'static str, bytes: impl Into<Vec<u8>>) {
        self.files.entry(target).or_default().push(bytes.into());
    }

    fn write(&self, dir: &Path) -> Result<()> {
        for (target, seeds) in &self.files {
            let d = dir.join(target);
            std::fs::create_dir_all(&d)?;
            for (i, s) in seeds.iter().enumerate() {
                std::fs::write(d.join(format!("seed-{i:03}")), s)?;
            }
            println!("{target}: {} seeds", seeds.len());
        }
        Ok(())
    }
}

fn read_json(p: &Path) -> Result<Value> {
    Ok(serde_json::from_slice(&std::fs::read(p)?)?)
}

fn b64(s: &str) -> Result<Vec<u8>> {
    // ATProto `$bytes` is unpadded, the XMTP vectors are padded: accept both.
    Ok(base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim_end_matches('='))?)
}

fn prefixed(head: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(head.len())
        .unwrap_or(u32::MAX)
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(head);
    out.extend_from_slice(tail);
    out
}

fn op_line(action: &str, path: &str, cid: Option<&Cid>, prev: Option<&Cid>) -> String {
    let show = |c: Option<&Cid>| c.map_or_else(|| "-".to_owned(), Cid::to_string);
    format!("{action} {path} {} {}\n", show(cid), show(prev))
}

/// Every `{header, body}` object anywhere in a JSON file, as wire frames.
fn frames_in(v: &Value, out: &mut Vec<Vec<u8>>) {
    match v {
        Value::Object(m) => {
            if let (Some(h), Some(b)) = (m.get("header"), m.get("body"))
                && let (Ok(mut h), Ok(b)) = (json_to_cbor(h), json_to_cbor(b))
            {
                h.extend(b);
                out.push(h);
            }
            m.values().for_each(|x| frames_in(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| frames_in(x, out)),
        _ => {}
    }
}

/// The captured pre-Sync-1.1 commits: frame, CAR and commit seeds.
fn indigo_commits(v: &Path, c: &mut Corpus) -> Result<()> {
    let dir = v.join("peers/indigo/atproto/repo/testdata");
    for e in std::fs::read_dir(&dir)? {
        let body = read_json(&e?.path())?;
        let frame = json!({"header": {"op": 1, "t": "#commit"}, "body": body});
        let mut wire = Vec::new();
        wire.extend(json_to_cbor(&frame["header"])?);
        wire.extend(json_to_cbor(&frame["body"])?);
        c.add("frame", wire);
        let car = b64(body["blocks"]["$bytes"].as_str().unwrap_or_default())?;
        let mut ops = String::new();
        for op in body["ops"].as_array().into_iter().flatten() {
            let cid = op["cid"]["$link"]
                .as_str()
                .and_then(|s| repo::parse_cid(s).ok());
            let prev = op["prev"]["$link"]
                .as_str()
                .and_then(|s| repo::parse_cid(s).ok());
            ops.push_str(&op_line(
                op["action"].as_str().unwrap_or("create"),
                op["path"].as_str().unwrap_or(""),
                cid.as_ref(),
                prev.as_ref(),
            ));
        }
        c.add("commit", prefixed(&car, ops.as_bytes()));
        c.add("car", car);
    }
    let relay = v.join("peers/indigo/cmd/relay/testing/testdata");
    for e in std::fs::read_dir(&relay)? {
        let mut frames = Vec::new();
        frames_in(&read_json(&e?.path())?, &mut frames);
        frames.into_iter().take(20).for_each(|f| c.add("frame", f));
    }
    for car in [
        "peers/indigo/testing/testdata/greenground.repo.car",
        "peers/rsky/rsky-repo/resources/test/valid_repo.car",
    ] {
        c.add("car", std::fs::read(v.join(car))?);
    }
    for rec in ["feedpost_record.cbor", "post_richtext_link.cbor"] {
        c.add(
            "record",
            std::fs::read(v.join("peers/indigo/testing/testdata").join(rec))?,
        );
    }
    Ok(())
}

/// Sync 1.1 commits built from the MST fixtures: old tree, ops, new tree, signed commit.
fn sync11_commits(v: &Path, c: &mut Corpus) -> Result<()> {
    let key = PrivateKey::from_bytes(Curve::K256, &TEST_SIGNING_KEY)?;
    let fixtures = read_json(&v.join("atproto-interop-tests/firehose/commit-proof-fixtures.json"))?;
    let other = repo::cid_for_raw(b"updated");
    for (n, f) in fixtures.as_array().into_iter().flatten().enumerate() {
        let leaf = repo::parse_cid(f["leafValue"].as_str().unwrap_or_default())?;
        let strs = |k: &str| -> Vec<String> {
            f[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let (keys, adds, dels) = (strs("keys"), strs("adds"), strs("dels"));
        let mut old = Mst::new();
        keys.iter().for_each(|k| {
            old.insert(k, leaf);
        });
        let mut new = Mst::new();
        keys.iter().for_each(|k| {
            new.insert(k, leaf);
        });
        let mut ops = Vec::new();
        for a in &adds {
            new.insert(a, leaf);
            ops.push(Op {
                action: OpAction::Create,
                path: a,
                cid: Some(leaf),
                prev: None,
            });
        }
        for d in &dels {
            new.delete(d);
            ops.push(Op {
                action: OpAction::Delete,
                path: d,
                cid: None,
                prev: Some(leaf),
            });
        }
        // One update too, so the seeds cover all three actions.
        if let Some(k) = keys.iter().find(|k| !dels.contains(k)) {
            new.insert(k, other);
            ops.push(Op {
                action: OpAction::Update,
                path: k,
                cid: Some(other),
                prev: Some(leaf),
            });
        }
        let prev_data = old.root();
        let mut text = format!("prevData {prev_data}\n");
        for op in &ops {
            let action = match op.action {
                OpAction::Create => "create",
                OpAction::Update => "update",
                OpAction::Delete => "delete",
            };
            text.push_str(&op_line(action, op.path, op.cid.as_ref(), op.prev.as_ref()));
        }
        let proof = new.commit_proof_blocks(&mut old, &ops)?;
        let rev = format!("3l3qo2vutsw{}", ["2b", "3c", "4d", "5e", "6f", "7g"][n % 6]);
        let mut commit = Commit::new_unsigned(SEED_DID, new.root(), rev);
        commit.sign(&key);
        let (ccid, cblock) = commit.to_block_with_cid();
        let blocks =
            std::iter::once((&ccid, &cblock[..])).chain(proof.iter().map(|(c, b)| (c, &b[..])));
        let car = write_car(&[ccid], blocks);
        c.add("commit", prefixed(&car, text.as_bytes()));
        c.add("car", car);
        // The mst target: the new tree's blocks, root first, CIDs recomputed by the target.
        let root = new.root();
        let mut all = new.blocks();
        all.sort_by_key(|(cid, _)| *cid != root);
        let mut mst = prefixed(text.as_bytes(), &[]);
        for (_, b) in all {
            mst.extend(u16::try_from(b.len()).unwrap_or(u16::MAX).to_le_bytes());
            mst.extend(b);
        }
        c.add("mst", mst);
    }
    Ok(())
}

fn did_docs(v: &Path, c: &mut Corpus) -> Result<()> {
    for f in [
        "did_plc_doc.json",
        "did_web_doc.json",
        "did_plc_doc_legacy.json",
    ] {
        c.add(
            "did_doc",
            std::fs::read(v.join("peers/indigo/atproto/identity/testdata").join(f))?,
        );
    }
    let key = PrivateKey::from_bytes(Curve::K256, &TEST_SIGNING_KEY)?.public_key();
    let doc = json!({
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": SEED_DID,
        "alsoKnownAs": ["at://alice.test"],
        "verificationMethod": [{
            "id": format!("{SEED_DID}#atproto"),
            "type": "Multikey",
            "controller": SEED_DID,
            "publicKeyMultibase": key.multibase(),
        }],
        "service": [{
            "id": "#atproto_pds",
            "type": "AtprotoPersonalDataServer",
            "serviceEndpoint": "https://pds.example.com:8443/",
        }],
    });
    c.add("did_doc", serde_json::to_vec_pretty(&doc)?);
    Ok(())
}

fn handles(v: &Path, c: &mut Corpus) -> Result<()> {
    for s in [
        "did=did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "did=did:plc:ewvi7nxzyoun6zhxrhs64oiz\ndid=did:plc:ewvi7nxzyoun6zhxrhs64oiz",
        "v=spf1 -all\ndid=did:web:example.com",
        "did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa\ndid=did:plc:bbbbbbbbbbbbbbbbbbbbbbbb",
        "did:plc:ewvi7nxzyoun6zhxrhs64oiz\n",
        " did:web:localhost%3A8080 \r\n",
    ] {
        c.add("handle", s);
    }
    let valid =
        std::fs::read_to_string(v.join("atproto-interop-tests/syntax/handle_syntax_valid.txt"))?;
    for line in valid
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .take(10)
    {
        c.add("handle", line);
    }
    Ok(())
}

fn xmtp(v: &Path, c: &mut Corpus) -> Result<()> {
    let captured = read_json(&v.join("xmtp/captured-identity-updates.json"))?;
    let mut logs: Vec<Vec<Vec<u8>>> = Vec::new();
    let updates: Vec<Vec<u8>> = captured["identityUpdates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| b64(u["identityUpdate"].as_str()?).ok())
        .collect();
    logs.push(updates);
    let replay = read_json(&v.join("xmtp/inbox-state-replay.json"))?;
    for s in replay["scenarios"].as_array().into_iter().flatten() {
        logs.push(
            s["identityUpdates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|u| b64(u.as_str()?).ok())
                .collect(),
        );
    }
    for log in &logs {
        let mut seed = vec![1u8];
        for u in log {
            seed.extend(u16::try_from(u.len()).unwrap_or(u16::MAX).to_le_bytes());
            seed.extend(u);
        }
        c.add("xmtp_update", seed);
    }
    if let Some(r) = captured["sampleGetIdentityUpdates"]["response"].as_str() {
        let mut seed = vec![0u8];
        seed.extend(b64(r)?);
        c.add("xmtp_update", seed);
    }
    // One answer carrying two scenario logs, as the node batches them.
    use xmtp::proto::api::{RawGetIdentityUpdatesResponse, get_identity_updates_response as g};
    let resp = RawGetIdentityUpdatesResponse {
        responses: logs
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, log)| g::RawResponse {
                inbox_id: format!("{i:064x}"),
                updates: log
                    .iter()
                    .enumerate()
                    .map(|(n, u)| g::RawIdentityUpdateLog {
                        sequence_id: n as u64 + 1,
                        server_timestamp_ns: 1,
                        update: u.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut seed = vec![0u8];
    seed.extend(resp.encode_to_vec());
    c.add("xmtp_update", seed);
    Ok(())
}

fn xrpc(c: &mut Corpus) {
    // First byte: index into xrpc::QUERY_METHODS (resolveActor, resolveActors, resolveInbox,
    // resolveInboxes, listLinks, getStatus), then _health, then did.json.
    let inbox = format!("{:064x}", 1);
    let seeds: Vec<(u8, String)> = vec![
        (0, "actor=did:plc:alice".into()),
        (0, "actor=alice.test&includeUnverified=true".into()),
        (
            1,
            "actors=did:plc:alice&actors=bob.test&actors=did%3Aplc%3Acarol".into(),
        ),
        (2, format!("inboxId={inbox}")),
        (2, format!("inboxId={inbox}&includeUnverified=false")),
        (3, format!("inboxIds={inbox}&inboxIds={:064x}", 2)),
        (4, "limit=2".into()),
        (4, "limit=1&cursor=v1.6469643a706c633a616c696365".into()),
        (4, "status=invalid&limit=1000".into()),
        (4, "status=pending&cursor=v1.".into()),
        (5, String::new()),
        (6, String::new()),
        (7, String::new()),
    ];
    for (pick, q) in seeds {
        let mut s = vec![pick];
        s.extend(q.into_bytes());
        c.add("xrpc_query", s);
    }
}

fn records(c: &mut Corpus) -> Result<()> {
    let record = json!({
        "$type": "org.xmtp.inbox",
        "inboxId": "a35addafd88339f8b9212b0e9d7246960ec512fa5c7983c74615f8da12d99c25",
        "verificationSignature": "l7eroVbRs8/i1Fc0RaL8We7YQXCmDfyOeqrusnJMmy4V3UJyotRNXCG5hytxsayI6GDZrzpAGJc6/ZOAQOgtCA==",
        "createdAt": "2026-11-22T04:01:37.000Z",
    });
    c.add("record", json_to_cbor(&record)?);
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(vectors), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: fuzz-seeds <vectors dir> <corpus dir>".into());
    };
    let mut c = Corpus::default();
    indigo_commits(&vectors, &mut c)?;
    sync11_commits(&vectors, &mut c)?;
    did_docs(&vectors, &mut c)?;
    handles(&vectors, &mut c)?;
    xmtp(&vectors, &mut c)?;
    xrpc(&mut c);
    records(&mut c)?;
    c.write(&out)
}
