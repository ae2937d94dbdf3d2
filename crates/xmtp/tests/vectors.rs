//! Every case of the SDK-produced vectors in `testdata/xmtp` (see its README): our
//! verdicts must equal the real XMTP SDK's. Counts are asserted so a shrunken file fails.
#![allow(clippy::unwrap_used)]

use prost::Message as _;
use serde_json::Value;
use std::collections::HashMap;
use syntax::base64::node_base64_decode;
use xmtp::inbox_id::{IdentifierKind, InboxIdError, generate_inbox_id, parse_nonce};
use xmtp::model::DecodedUpdate;
use xmtp::proto::associations as pb;
use xmtp::replay::{ReplayClass, ReplayErrorKind, replay_bytes};
use xmtp::signature::ScwResults;
use xmtp::text::signature_text;
use xmtp::{InstallationKey, verify_did_signature};

fn load(name: &str) -> Value {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/xmtp");
    let path = format!("{dir}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("XMTP vector file {path} is missing ({e}); the tests need <workspace>/testdata")
    });
    serde_json::from_str(&text).unwrap()
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[test]
fn installation_signature_vectors_match_the_sdk_verdicts() {
    let cases = load("installation-signatures.json");
    let cases = cases.as_array().unwrap();
    let (mut run, mut valid, mut resigned) = (0, 0, 0);
    for c in cases {
        let id = s(&c["id"]);
        let pk = hex::decode(s(&c["publicKey"])).unwrap();
        let decoded = node_base64_decode(s(&c["signature"]));
        assert_eq!(
            hex::encode(&decoded),
            s(&c["decodedSignatureHex"]),
            "{id}: Node base64 bytes"
        );
        let got = verify_did_signature(s(&c["text"]), s(&c["signature"]), &pk);
        assert_eq!(got, c["valid"].as_bool().unwrap(), "{id}: verdict");
        if got {
            valid += 1;
        }
        if let (Some(seed), true) = (c["testOnlyPrivateSeed"].as_str(), id.starts_with("valid-")) {
            let key = InstallationKey::from_seed(hex::decode(seed).unwrap().try_into().unwrap());
            assert_eq!(key.public_key().to_vec(), pk, "{id}: seed gives the key");
            assert_eq!(
                key.sign_public(s(&c["text"])).to_vec(),
                decoded,
                "{id}: we sign identically"
            );
            resigned += 1;
        }
        run += 1;
    }
    assert_eq!(run, 52);
    assert_eq!(valid, 22);
    assert!(resigned >= 9, "resigned {resigned}");
}

#[test]
fn captured_installation_signatures_verify() {
    let v = load("captured-installation-signatures.json");
    let pk = hex::decode(s(&v["installationPublicKey"])).unwrap();
    let sigs = v["signatures"].as_array().unwrap();
    for sig in sigs {
        assert_eq!(
            hex::encode(node_base64_decode(s(&sig["verificationSignature"]))),
            s(&sig["signatureHex"])
        );
        assert!(verify_did_signature(
            s(&sig["did"]),
            s(&sig["verificationSignature"]),
            &pk
        ));
        assert!(!verify_did_signature(
            "did:plc:other",
            s(&sig["verificationSignature"]),
            &pk
        ));
    }
    assert_eq!(sigs.len(), 3);
}

#[test]
fn inbox_id_vectors_match_generate_inbox_id() {
    let cases = load("inbox-ids.json");
    let cases = cases.as_array().unwrap();
    for c in cases {
        let kind = match s(&c["identifierKind"]) {
            "Ethereum" => IdentifierKind::Ethereum,
            "Passkey" => IdentifierKind::Passkey,
            other => panic!("kind {other}"),
        };
        // An omitted nonce is 1, as in the Node bindings.
        let got = parse_nonce(c["nonce"].as_str().unwrap_or("1"))
            .and_then(|n| generate_inbox_id(s(&c["identifier"]), kind, n));
        match (got, c["inboxId"].as_str()) {
            (Ok(id), Some(want)) => assert_eq!(id, want, "{c}"),
            (Err(e), None) => {
                // Refused for the SDK's reason.
                let sdk = s(&c["sdkError"]);
                let want = if sdk.contains("must be non-negative") {
                    InboxIdError::NegativeNonce
                } else if sdk.contains("is too large") {
                    InboxIdError::NonceTooLarge
                } else if kind == IdentifierKind::Passkey {
                    InboxIdError::InvalidPasskeyHex
                } else {
                    InboxIdError::InvalidAccountAddress
                };
                assert_eq!(e, want, "{c}");
            }
            (got, want) => panic!("{c}: got {got:?}, the SDK gave {want:?}"),
        }
    }
    assert_eq!(cases.len(), 19);
}

fn installations_of(state: &xmtp::InboxState) -> Vec<(String, String)> {
    state
        .installations()
        .iter()
        .map(|i| {
            (
                hex::encode(&i.key),
                i.client_timestamp_ns.unwrap_or(0).to_string(),
            )
        })
        .collect()
}

fn sdk_installations(state: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = state["installations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                s(&i["id"]).to_string(),
                s(&i["clientTimestampNs"]).to_string(),
            )
        })
        .collect();
    v.sort_by(|a, b| {
        a.1.parse::<u64>()
            .unwrap()
            .cmp(&b.1.parse::<u64>().unwrap())
            .then(a.0.cmp(&b.0))
    });
    v
}

#[test]
fn captured_identity_updates_round_trip_verify_and_replay() {
    let v = load("captured-identity-updates.json");
    let updates = v["identityUpdates"].as_array().unwrap();
    assert_eq!(updates.len(), 3);
    let wallet_key: [u8; 32] = hex::decode(s(&v["wallet"]["testOnlyPrivateKey"]))
        .unwrap()
        .try_into()
        .unwrap();
    let wallet = testkit::xmtp::Wallet::from_bytes(&wallet_key).unwrap();
    assert_eq!(wallet.address(), s(&v["wallet"]["address"]));
    let requests = v["walletSignatureRequests"].as_array().unwrap();
    let mut raw = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        let bytes = b64(s(&u["identityUpdate"]));
        let proto = pb::IdentityUpdate::decode(bytes.as_slice()).unwrap();
        assert_eq!(
            proto.encode_to_vec(),
            bytes,
            "update {i} re-encodes byte-exactly"
        );
        let decoded = DecodedUpdate::from_proto(proto).unwrap();
        let text = signature_text(&decoded);
        assert_eq!(text, s(&u["signatureText"]), "update {i} text");
        assert_eq!(text, s(&requests[i]["signatureText"]));
        // The wallet signs deterministically (RFC 6979), as the capture's wallet did.
        assert_eq!(
            hex::encode(wallet.sign_erc191(&text)),
            s(&requests[i]["signature"])
        );
        assert_eq!(
            hex::encode(xmtp::signature::eip191_hash(text.as_bytes())),
            s(&requests[i]["eip191Digest"])
        );
        raw.push(bytes);
    }
    let scw = ScwResults::new();
    for (n, key) in [
        (1, "afterUpdate1"),
        (2, "afterUpdate2"),
        (3, "afterUpdate3"),
    ] {
        let state = replay_bytes(None, &raw[..n], &scw).unwrap();
        let sdk = &v["inboxStates"][key];
        assert_eq!(state.inbox_id, s(&sdk["inboxId"]));
        assert_eq!(installations_of(&state), sdk_installations(sdk), "{key}");
        // Incremental replay from a cached state gives the same result.
        if n > 1 {
            let prev = replay_bytes(None, &raw[..n - 1], &scw).unwrap();
            assert_eq!(
                replay_bytes(Some(prev), &raw[n - 1..n], &scw).unwrap(),
                state
            );
        }
    }
    // The GetIdentityUpdates sample decodes and re-encodes byte-exactly too.
    let resp = b64(s(&v["sampleGetIdentityUpdates"]["response"]));
    let decoded = xmtp::proto::api::GetIdentityUpdatesResponse::decode(resp.as_slice()).unwrap();
    assert_eq!(decoded.encode_to_vec(), resp);
    let req = b64(s(&v["sampleGetIdentityUpdates"]["request"]));
    let decoded = xmtp::proto::api::GetIdentityUpdatesRequest::decode(req.as_slice()).unwrap();
    assert_eq!(decoded.encode_to_vec(), req);
    // After the revocation the captured DID signatures no longer verify.
    let final_state = replay_bytes(None, &raw, &scw).unwrap();
    let caps = load("captured-installation-signatures.json");
    for (sig, verdict) in caps["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .zip(v["referenceVerifierAfterRevoke"].as_array().unwrap())
    {
        let ok = final_state.installations().iter().any(|i| {
            verify_did_signature(s(&sig["did"]), s(&sig["verificationSignature"]), &i.key)
        });
        assert_eq!(ok, verdict["verdict"].as_bool().unwrap());
    }
}

#[test]
fn builder_produces_the_captured_structure() {
    let v = load("captured-identity-updates.json");
    let wallet_key: [u8; 32] = hex::decode(s(&v["wallet"]["testOnlyPrivateKey"]))
        .unwrap()
        .try_into()
        .unwrap();
    let wallet = testkit::xmtp::Wallet::from_bytes(&wallet_key).unwrap();
    let captured: Vec<pb::IdentityUpdate> = v["identityUpdates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| pb::IdentityUpdate::decode(b64(s(&u["identityUpdate"])).as_slice()).unwrap())
        .collect();
    let key = InstallationKey::from_seed([9; 32]);
    // Swap the captured installation for ours; everything else must be identical.
    let swap = |mut u: pb::IdentityUpdate, built: &pb::IdentityUpdate| {
        for (a, b) in u.actions.iter_mut().zip(&built.actions) {
            if let (
                Some(pb::identity_action::Kind::Add(a)),
                Some(pb::identity_action::Kind::Add(b)),
            ) = (&mut a.kind, &b.kind)
            {
                a.new_member_identifier = b.new_member_identifier.clone();
                a.new_member_signature = b.new_member_signature.clone();
                a.existing_member_signature = b.existing_member_signature.clone();
            }
            if let (
                Some(pb::identity_action::Kind::CreateInbox(a)),
                Some(pb::identity_action::Kind::CreateInbox(b)),
            ) = (&mut a.kind, &b.kind)
            {
                a.initial_identifier_signature = b.initial_identifier_signature.clone();
            }
            if let (
                Some(pb::identity_action::Kind::Revoke(a)),
                Some(pb::identity_action::Kind::Revoke(b)),
            ) = (&mut a.kind, &b.kind)
            {
                a.recovery_identifier_signature = b.recovery_identifier_signature.clone();
            }
        }
        u
    };
    let built = testkit::xmtp::create_inbox(&wallet, 1, &key, captured[0].client_timestamp_ns);
    assert_eq!(swap(captured[0].clone(), &built), built);
    let inbox = built.inbox_id.clone();
    let built2 =
        testkit::xmtp::add_installation(&inbox, &wallet, &key, captured[1].client_timestamp_ns);
    assert_eq!(swap(captured[1].clone(), &built2), built2);
    // The revocation of the captured key is fully reproducible (the wallet key is known).
    let revoked = match &captured[2].actions[0].kind {
        Some(pb::identity_action::Kind::Revoke(r)) => {
            match &r.member_to_revoke.as_ref().unwrap().kind {
                Some(pb::member_identifier::Kind::InstallationPublicKey(k)) => k.clone(),
                _ => panic!("not an installation"),
            }
        }
        _ => panic!("not a revoke"),
    };
    let built3 = testkit::xmtp::revoke_installation(
        &inbox,
        &wallet,
        &revoked,
        captured[2].client_timestamp_ns,
    );
    assert_eq!(built3, captured[2], "revocation byte-identical");
    // And what we build replays.
    let scw = ScwResults::new();
    let state = replay_bytes(None, &[built.encode_to_vec(), built2.encode_to_vec()], &scw).unwrap();
    assert_eq!(
        state.installations().len(),
        1,
        "re-adding an installation overwrites it"
    );
    assert_eq!(
        state.installations()[0].client_timestamp_ns,
        Some(captured[1].client_timestamp_ns)
    );
}

/// The kind of failure each failing scenario must produce, from the SDK's error text
/// (`sdk.error`, e.g. "Association error: Replay detected"). Every one is evidence: the
/// SDK-produced scenarios contain no unknown kinds, undecodable bytes or unchecked wallets.
fn expected_kind(sdk_error: &str) -> ReplayErrorKind {
    const TABLE: [(&str, ReplayErrorKind); 8] = [
        ("Replay detected", ReplayErrorKind::Replay),
        ("XID not yet created", ReplayErrorKind::NotCreated),
        (
            "Missing existing member",
            ReplayErrorKind::MissingExistingMember,
        ),
        (
            "Member of kind installation not allowed to add installation",
            ReplayErrorKind::MemberNotAllowed,
        ),
        (
            "Multiple create operations detected",
            ReplayErrorKind::MultipleCreate,
        ),
        (
            "ed25519 Signature failed",
            ReplayErrorKind::InvalidSignature,
        ),
        (
            "expected exactly 65 bytes",
            ReplayErrorKind::InvalidSignature,
        ),
        (
            "Missing identity update",
            ReplayErrorKind::MissingIdentityUpdate,
        ),
    ];
    let mut hits = TABLE.iter().filter(|(text, _)| sdk_error.contains(text));
    let (_, kind) = hits
        .next()
        .unwrap_or_else(|| panic!("no expected kind for SDK error {sdk_error:?}"));
    assert!(hits.next().is_none(), "ambiguous SDK error {sdk_error:?}");
    *kind
}

#[test]
fn inbox_state_replay_scenarios_match_fetch_inbox_states() {
    let v = load("inbox-state-replay.json");
    let mut sigs: HashMap<String, (String, String)> = HashMap::new();
    for c in v["didChecksCrafted"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["didChecksCaptured"].as_array().unwrap())
    {
        sigs.insert(
            s(&c["label"]).into(),
            (s(&c["did"]).into(), s(&c["signature"]).into()),
        );
    }
    let scw = ScwResults::new();
    let (mut scenarios, mut ok, mut verdicts, mut failing) = (0, 0, 0, 0);
    for sc in v["scenarios"].as_array().unwrap() {
        let name = s(&sc["name"]);
        let raw: Vec<Vec<u8>> = sc["identityUpdates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| b64(s(u)))
            .collect();
        if let Some(texts) = sc["signatureTexts"].as_array() {
            for (bytes, text) in raw.iter().zip(texts) {
                if let Ok(d) = DecodedUpdate::from_bytes(bytes) {
                    assert_eq!(signature_text(&d), s(text), "{name}: text");
                }
            }
        }
        let got = replay_bytes(None, &raw, &scw);
        let sdk = &sc["sdk"];
        assert_eq!(
            got.is_ok(),
            sdk["ok"].as_bool().unwrap(),
            "{name}: {got:?} vs {}",
            sdk["error"]
        );
        if let Err(e) = &got {
            // Failing for the wrong reason (say, a decode error) must not pass.
            let want = expected_kind(s(&sdk["error"]));
            assert_eq!(e.kind(), want, "{name}: {e} vs {}", sdk["error"]);
            assert_eq!(e.class(), ReplayClass::Evidence, "{name}");
            failing += 1;
        }
        if let Ok(state) = &got {
            ok += 1;
            assert_eq!(
                installations_of(state),
                sdk_installations(&sdk["state"]),
                "{name}: installations"
            );
            assert_eq!(state.inbox_id, s(&sdk["state"]["inboxId"]));
            for verdict in sdk["verdicts"].as_array().unwrap() {
                let (did, sig) = &sigs[s(&verdict["label"])];
                assert_eq!(did, s(&verdict["did"]));
                let ours = state
                    .installations()
                    .iter()
                    .any(|i| verify_did_signature(did, sig, &i.key));
                assert_eq!(
                    ours,
                    verdict["verdict"].as_bool().unwrap(),
                    "{name}: {}",
                    s(&verdict["label"])
                );
                verdicts += 1;
            }
        }
        scenarios += 1;
    }
    assert_eq!(scenarios, 28);
    assert_eq!(verdicts, 29);
    assert!(ok >= 12, "ok scenarios {ok}");
    assert_eq!(
        ok + failing,
        scenarios,
        "every failing scenario's kind checked"
    );
}
