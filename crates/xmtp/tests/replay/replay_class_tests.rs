//! Evidence versus "could not evaluate": which replay failures may make an inbox invalid,
//! and which only say that this verifier could not decide (smart-contract-wallet answers
//! with an `error`, update kinds it does not know, bytes that do not decode).

use prost::Message as _;
use testkit::xmtp::{ScwWallet, Wallet, create_inbox, create_inbox_scw, revoke_installation};
use xmtp::installation::InstallationKey;
use xmtp::model::DecodedUpdate;
use xmtp::replay::{ReplayClass, ReplayError, ReplayErrorKind, replay, replay_bytes, scw_requests};
use xmtp::signature::{ScwResults, ScwVerdict, SignatureError};
use xmtp::state::CachedInbox;

fn scw_answers(update: &DecodedUpdate, verdict: ScwVerdict) -> ScwResults {
    scw_requests(std::slice::from_ref(update))
        .into_iter()
        .map(|r| (r, verdict.clone()))
        .collect()
}

#[test]
fn a_smart_contract_wallet_error_answer_is_unevaluable_not_invalid() {
    let scw = ScwWallet::generate(1);
    let key = InstallationKey::from_seed([4; 32]);
    let update = DecodedUpdate::from_proto(create_inbox_scw(&scw, 1, &key, 1_000)).unwrap();
    let err = replay(
        None,
        std::slice::from_ref(&update),
        &scw_answers(&update, ScwVerdict::Error("chain RPC timed out".into())),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ReplayError::Signature(SignatureError::SmartContractWalletError(
            "chain RPC timed out".into()
        ))
    );
    assert_eq!(err.kind(), ReplayErrorKind::ScwUnchecked);
    assert_eq!(err.class(), ReplayClass::Unevaluable);
    // No answer at all: the same.
    let err = replay(None, std::slice::from_ref(&update), &ScwResults::new()).unwrap_err();
    assert_eq!(err.class(), ReplayClass::Unevaluable);
    // The chain said no: evidence.
    let err = replay(
        None,
        std::slice::from_ref(&update),
        &scw_answers(&update, ScwVerdict::Invalid),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ReplayErrorKind::ScwInvalid);
    assert!(err.is_evidence());
    // The chain said yes: the installation is current.
    let state = replay(
        None,
        std::slice::from_ref(&update),
        &scw_answers(&update, ScwVerdict::Valid),
    )
    .unwrap();
    assert_eq!(state.installations()[0].key, key.public_key().to_vec());
}

#[test]
fn a_node_answer_with_an_error_never_reads_as_valid_or_invalid() {
    assert_eq!(
        ScwVerdict::from_response(false, Some("rpc down")),
        ScwVerdict::Error("rpc down".into())
    );
    assert_eq!(
        ScwVerdict::from_response(true, Some("rpc down")),
        ScwVerdict::Error("rpc down".into())
    );
    assert_eq!(
        ScwVerdict::from_response(false, Some("")),
        ScwVerdict::Invalid
    );
    assert_eq!(ScwVerdict::from_response(false, None), ScwVerdict::Invalid);
    assert_eq!(ScwVerdict::from_response(true, None), ScwVerdict::Valid);
}

/// An identity action whose oneof uses a tag this verifier does not know (a kind XMTP adds
/// later): prost skips the unknown field, so the action has no kind.
#[test]
fn an_unknown_update_kind_is_unevaluable() {
    let wallet = Wallet::from_bytes(&[7; 32]).unwrap();
    let key = InstallationKey::from_seed([5; 32]);
    let create = create_inbox(&wallet, 1, &key, 1_000);
    let future = testkit::xmtp::update_of_unknown_kind(&create.inbox_id, 2_000);
    let err =
        replay_bytes(None, &[create.encode_to_vec(), future], &ScwResults::new()).unwrap_err();
    assert_eq!(err.kind(), ReplayErrorKind::UnknownKind, "{err}");
    assert_eq!(err.class(), ReplayClass::Unevaluable);
}

#[test]
fn bytes_that_do_not_decode_are_unevaluable() {
    let err = replay_bytes(None, &[vec![0x0f; 8]], &ScwResults::new()).unwrap_err();
    assert_eq!(err.kind(), ReplayErrorKind::UndecodableUpdate);
    assert!(!err.is_evidence());
}

#[test]
fn rule_violations_and_bad_signatures_are_evidence() {
    let wallet = Wallet::from_bytes(&[7; 32]).unwrap();
    let key = InstallationKey::from_seed([5; 32]);
    let create = create_inbox(&wallet, 1, &key, 1_000).encode_to_vec();
    let err =
        replay_bytes(None, &[create.clone(), create.clone()], &ScwResults::new()).unwrap_err();
    assert_eq!(err.kind(), ReplayErrorKind::MultipleCreate);
    assert!(err.is_evidence());
    let mut tampered =
        xmtp::proto::associations::IdentityUpdate::decode(create.as_slice()).unwrap();
    tampered.client_timestamp_ns += 5_000_000_000; // the text shows whole seconds
    let err = replay_bytes(None, &[tampered.encode_to_vec()], &ScwResults::new()).unwrap_err();
    // The installation's Ed25519 signature no longer verifies over the changed text.
    assert_eq!(err.kind(), ReplayErrorKind::InvalidSignature, "{err}");
    assert!(err.is_evidence());
}

#[test]
fn a_revoked_installation_is_remembered_until_re_added() {
    let wallet = Wallet::from_bytes(&[7; 32]).unwrap();
    let key = InstallationKey::from_seed([5; 32]);
    let create = create_inbox(&wallet, 1, &key, 1_000);
    let revoke = revoke_installation(&create.inbox_id, &wallet, &key.public_key(), 2_000);
    let state = replay_bytes(
        None,
        &[create.encode_to_vec(), revoke.encode_to_vec()],
        &ScwResults::new(),
    )
    .unwrap();
    assert!(state.installations().is_empty());
    assert!(
        state
            .revoked_installations
            .contains(&hex::encode(key.public_key()))
    );
    let again = testkit::xmtp::add_installation(&create.inbox_id, &wallet, &key, 3_000);
    let state = replay_bytes(Some(state), &[again.encode_to_vec()], &ScwResults::new()).unwrap();
    assert!(state.revoked_installations.is_empty());
}

#[test]
fn only_an_evidence_failure_with_a_kind_is_a_final_cache_entry() {
    let invalid = |kind| CachedInbox::Invalid {
        last_sequence_id: 3,
        reason: "x".into(),
        kind,
    };
    assert!(invalid(Some(ReplayErrorKind::Replay)).is_final_invalid());
    assert!(!invalid(Some(ReplayErrorKind::ScwUnchecked)).is_final_invalid());
    // Cached before kinds existed (it may be a chain-RPC failure read as invalid).
    let legacy =
        br#"{"Invalid":{"last_sequence_id":3,"reason":"smart contract wallet signature invalid"}}"#;
    let cached = CachedInbox::from_bytes(legacy).unwrap();
    assert!(!cached.is_final_invalid());
    // Round trip keeps the kind.
    let c = invalid(Some(ReplayErrorKind::Replay));
    assert_eq!(CachedInbox::from_bytes(&c.to_bytes()).unwrap(), c);
}
