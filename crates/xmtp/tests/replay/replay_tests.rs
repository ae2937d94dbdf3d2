//! One test per replay rule of `docs/xmtp-identity.md` §4.4, on updates built and signed
//! here (wallets sign EIP-191, installations Ed25519ph under the identity-update context).

use pb::identity_action::Kind;
use testkit::xmtp::Wallet;
use xmtp::inbox_id::inbox_id_raw;
use xmtp::installation::InstallationKey;
use xmtp::model::DecodedUpdate;
use xmtp::proto::associations as pb;
use xmtp::replay::{ReplayError, replay};
use xmtp::signature::ScwResults;
use xmtp::state::{CachedInbox, InboxState};
use xmtp::text::signature_text;

#[derive(Clone, Copy)]
enum Signer<'a> {
    W(&'a Wallet),
    I(&'a InstallationKey),
}

enum Spec<'a> {
    Create(&'a Wallet, u64),
    AddInstallation(Signer<'a>, &'a InstallationKey),
    /// Names the first key as the new member, but the second key signs.
    AddImpostor(Signer<'a>, &'a InstallationKey, &'a InstallationKey),
    AddWallet(Signer<'a>, &'a Wallet),
    Revoke(Signer<'a>, pb::MemberIdentifier),
    ChangeRecovery(Signer<'a>, String),
}

fn placeholder() -> Option<pb::Signature> {
    Some(pb::Signature {
        signature: Some(pb::signature::Signature::Erc191(
            pb::RecoverableEcdsaSignature { bytes: vec![] },
        )),
    })
}

fn sign(s: Signer<'_>, text: &str) -> Option<pb::Signature> {
    let sig = match s {
        Signer::W(w) => pb::signature::Signature::Erc191(pb::RecoverableEcdsaSignature {
            bytes: w.sign_erc191(text),
        }),
        Signer::I(k) => {
            pb::signature::Signature::InstallationKey(pb::RecoverableEd25519Signature {
                bytes: k.sign_identity_update(text).to_vec(),
                public_key: k.public_key().to_vec(),
            })
        }
    };
    Some(pb::Signature {
        signature: Some(sig),
    })
}

fn installation(k: &InstallationKey) -> pb::MemberIdentifier {
    pb::MemberIdentifier {
        kind: Some(pb::member_identifier::Kind::InstallationPublicKey(
            k.public_key().to_vec(),
        )),
    }
}

fn eth(w: &Wallet) -> pb::MemberIdentifier {
    pb::MemberIdentifier {
        kind: Some(pb::member_identifier::Kind::EthereumAddress(w.address())),
    }
}

/// Builds and signs one update.
fn update(inbox_id: &str, ts: u64, specs: &[Spec<'_>]) -> DecodedUpdate {
    let unsigned = |specs: &[Spec<'_>]| -> Vec<pb::IdentityAction> {
        specs
            .iter()
            .map(|s| {
                let kind = match s {
                    Spec::Create(w, nonce) => Kind::CreateInbox(pb::CreateInbox {
                        initial_identifier: w.address(),
                        nonce: *nonce,
                        initial_identifier_signature: placeholder(),
                        initial_identifier_kind: pb::IdentifierKind::Ethereum as i32,
                        relying_party: None,
                    }),
                    Spec::AddInstallation(_, k) => Kind::Add(pb::AddAssociation {
                        new_member_identifier: Some(installation(k)),
                        existing_member_signature: placeholder(),
                        new_member_signature: placeholder(),
                        relying_party: None,
                    }),
                    Spec::AddImpostor(_, k, _) => Kind::Add(pb::AddAssociation {
                        new_member_identifier: Some(installation(k)),
                        existing_member_signature: placeholder(),
                        new_member_signature: placeholder(),
                        relying_party: None,
                    }),
                    Spec::AddWallet(_, w) => Kind::Add(pb::AddAssociation {
                        new_member_identifier: Some(eth(w)),
                        existing_member_signature: placeholder(),
                        new_member_signature: placeholder(),
                        relying_party: None,
                    }),
                    Spec::Revoke(_, m) => Kind::Revoke(pb::RevokeAssociation {
                        member_to_revoke: Some(m.clone()),
                        recovery_identifier_signature: placeholder(),
                    }),
                    Spec::ChangeRecovery(_, to) => {
                        Kind::ChangeRecoveryAddress(pb::ChangeRecoveryAddress {
                            new_recovery_identifier: to.clone(),
                            existing_recovery_identifier_signature: placeholder(),
                            new_recovery_identifier_kind: pb::IdentifierKind::Ethereum as i32,
                            relying_party: None,
                        })
                    }
                };
                pb::IdentityAction { kind: Some(kind) }
            })
            .collect()
    };
    let mut proto = pb::IdentityUpdate {
        actions: unsigned(specs),
        client_timestamp_ns: ts,
        inbox_id: inbox_id.into(),
    };
    let text = signature_text(&DecodedUpdate::from_proto(proto.clone()).unwrap());
    for (a, s) in proto.actions.iter_mut().zip(specs) {
        match (a.kind.as_mut().unwrap(), s) {
            (Kind::CreateInbox(c), Spec::Create(w, _)) => {
                c.initial_identifier_signature = sign(Signer::W(w), &text)
            }
            (Kind::Add(a), Spec::AddInstallation(by, k)) => {
                a.existing_member_signature = sign(*by, &text);
                a.new_member_signature = sign(Signer::I(k), &text);
            }
            (Kind::Add(a), Spec::AddImpostor(by, _, signer)) => {
                a.existing_member_signature = sign(*by, &text);
                a.new_member_signature = sign(Signer::I(signer), &text);
            }
            (Kind::Add(a), Spec::AddWallet(by, w)) => {
                a.existing_member_signature = sign(*by, &text);
                a.new_member_signature = sign(Signer::W(w), &text);
            }
            (Kind::Revoke(r), Spec::Revoke(by, _)) => {
                r.recovery_identifier_signature = sign(*by, &text)
            }
            (Kind::ChangeRecoveryAddress(c), Spec::ChangeRecovery(by, _)) => {
                c.existing_recovery_identifier_signature = sign(*by, &text)
            }
            _ => unreachable!(),
        }
    }
    DecodedUpdate::from_proto(proto).unwrap()
}

struct Fixture {
    w1: Wallet,
    w2: Wallet,
    w3: Wallet,
    i1: InstallationKey,
    i2: InstallationKey,
    inbox: String,
}

fn fx() -> Fixture {
    let w1 = Wallet::from_bytes(&[1; 32]).unwrap();
    let inbox = inbox_id_raw(&w1.address(), 0);
    Fixture {
        w2: Wallet::from_bytes(&[2; 32]).unwrap(),
        w3: Wallet::from_bytes(&[3; 32]).unwrap(),
        i1: InstallationKey::from_seed([11; 32]),
        i2: InstallationKey::from_seed([12; 32]),
        w1,
        inbox,
    }
}

fn run(updates: &[DecodedUpdate]) -> Result<InboxState, ReplayError> {
    replay(None, updates, &ScwResults::new())
}

fn keys(state: &InboxState) -> Vec<Vec<u8>> {
    state.installations().into_iter().map(|i| i.key).collect()
}

impl Fixture {
    fn create(&self) -> DecodedUpdate {
        update(
            &self.inbox,
            1,
            &[
                Spec::Create(&self.w1, 0),
                Spec::AddInstallation(Signer::W(&self.w1), &self.i1),
            ],
        )
    }
}

#[test]
fn create_with_installation_yields_the_installation_and_the_derived_inbox() {
    let f = fx();
    let s = run(&[f.create()]).unwrap();
    assert_eq!(s.inbox_id, f.inbox);
    assert_eq!(keys(&s), vec![f.i1.public_key().to_vec()]);
    assert_eq!(s.recovery, xmtp::model::MemberId::Ethereum(f.w1.address()));
}

#[test]
fn empty_log_is_missing_identity_update() {
    assert_eq!(run(&[]), Err(ReplayError::MissingIdentityUpdate));
}

#[test]
fn second_create_is_rejected() {
    let f = fx();
    let again = update(&f.inbox, 2, &[Spec::Create(&f.w1, 0)]);
    assert_eq!(run(&[f.create(), again]), Err(ReplayError::MultipleCreate));
}

#[test]
fn add_before_create_is_not_created() {
    let f = fx();
    let add = update(
        &f.inbox,
        2,
        &[Spec::AddInstallation(Signer::W(&f.w1), &f.i2)],
    );
    assert_eq!(run(&[add]), Err(ReplayError::NotCreated));
}

#[test]
fn creating_with_another_inbox_id_is_wrong_inbox_id() {
    let f = fx();
    let u = update(&"ab".repeat(32), 1, &[Spec::Create(&f.w1, 0)]);
    assert_eq!(run(&[u]), Err(ReplayError::WrongInboxId));
}

#[test]
fn a_signature_reused_in_a_later_update_is_a_replay() {
    let f = fx();
    let add = update(
        &f.inbox,
        2,
        &[Spec::AddInstallation(Signer::W(&f.w1), &f.i2)],
    );
    assert_eq!(
        run(&[f.create(), add.clone(), add]),
        Err(ReplayError::Replay)
    );
}

#[test]
fn new_member_signer_must_be_the_new_member() {
    let f = fx();
    let add = update(
        &f.inbox,
        2,
        &[Spec::AddImpostor(Signer::W(&f.w1), &f.i2, &f.i1)],
    );
    assert_eq!(
        run(&[f.create(), add]),
        Err(ReplayError::NewMemberIdSignatureMismatch)
    );
}

#[test]
fn a_member_cannot_add_itself() {
    let f = fx();
    let add = update(&f.inbox, 2, &[Spec::AddWallet(Signer::W(&f.w1), &f.w1)]);
    assert_eq!(run(&[f.create(), add]), Err(ReplayError::AddSelf));
}

#[test]
fn a_stranger_wallet_cannot_add() {
    let f = fx();
    let add = update(
        &f.inbox,
        2,
        &[Spec::AddInstallation(Signer::W(&f.w2), &f.i2)],
    );
    assert_eq!(
        run(&[f.create(), add]),
        Err(ReplayError::MissingExistingMember)
    );
}

#[test]
fn an_installation_cannot_add_an_installation() {
    let f = fx();
    let add = update(
        &f.inbox,
        2,
        &[Spec::AddInstallation(Signer::I(&f.i1), &f.i2)],
    );
    assert_eq!(run(&[f.create(), add]), Err(ReplayError::MemberNotAllowed));
}

#[test]
fn an_installation_can_link_a_wallet() {
    let f = fx();
    let add = update(&f.inbox, 2, &[Spec::AddWallet(Signer::I(&f.i1), &f.w2)]);
    let s = run(&[f.create(), add]).unwrap();
    assert_eq!(s.identifiers().len(), 2);
}

#[test]
fn only_the_recovery_identifier_can_revoke() {
    let f = fx();
    let link = update(&f.inbox, 2, &[Spec::AddWallet(Signer::W(&f.w1), &f.w2)]);
    let by_member = update(
        &f.inbox,
        3,
        &[Spec::Revoke(Signer::W(&f.w2), installation(&f.i1))],
    );
    assert_eq!(
        run(&[f.create(), link.clone(), by_member]),
        Err(ReplayError::MissingExistingMember)
    );
    let by_installation = update(
        &f.inbox,
        3,
        &[Spec::Revoke(Signer::I(&f.i1), installation(&f.i1))],
    );
    assert_eq!(
        run(&[f.create(), by_installation]),
        Err(ReplayError::MissingExistingMember)
    );
    let by_recovery = update(
        &f.inbox,
        3,
        &[Spec::Revoke(Signer::W(&f.w1), installation(&f.i1))],
    );
    assert!(keys(&run(&[f.create(), link, by_recovery]).unwrap()).is_empty());
}

#[test]
fn revoking_a_wallet_drops_the_installations_it_added_but_no_others() {
    let f = fx();
    let link = update(&f.inbox, 2, &[Spec::AddWallet(Signer::W(&f.w1), &f.w2)]);
    let add = update(
        &f.inbox,
        3,
        &[Spec::AddInstallation(Signer::W(&f.w2), &f.i2)],
    );
    let revoke = update(&f.inbox, 4, &[Spec::Revoke(Signer::W(&f.w1), eth(&f.w2))]);
    let before = run(&[f.create(), link.clone(), add.clone()]).unwrap();
    assert_eq!(keys(&before).len(), 2);
    let after = run(&[f.create(), link, add, revoke]).unwrap();
    assert_eq!(keys(&after), vec![f.i1.public_key().to_vec()]);
}

#[test]
fn revoking_a_non_member_is_a_no_op() {
    let f = fx();
    let revoke = update(
        &f.inbox,
        2,
        &[Spec::Revoke(Signer::W(&f.w1), installation(&f.i2))],
    );
    assert_eq!(
        keys(&run(&[f.create(), revoke]).unwrap()),
        vec![f.i1.public_key().to_vec()]
    );
}

#[test]
fn changing_recovery_moves_revocation_rights_without_adding_a_member() {
    let f = fx();
    let change = update(
        &f.inbox,
        2,
        &[Spec::ChangeRecovery(Signer::W(&f.w1), f.w3.address())],
    );
    let s = run(&[f.create(), change.clone()]).unwrap();
    assert_eq!(s.identifiers().len(), 1, "recovery is not a member");
    let old = update(
        &f.inbox,
        3,
        &[Spec::Revoke(Signer::W(&f.w1), installation(&f.i1))],
    );
    assert_eq!(
        run(&[f.create(), change.clone(), old]),
        Err(ReplayError::MissingExistingMember)
    );
    let new = update(
        &f.inbox,
        3,
        &[Spec::Revoke(Signer::W(&f.w3), installation(&f.i1))],
    );
    assert!(keys(&run(&[f.create(), change.clone(), new]).unwrap()).is_empty());
    // The new recovery identifier (not a member) may add installations.
    let add = update(
        &f.inbox,
        4,
        &[Spec::AddInstallation(Signer::W(&f.w3), &f.i2)],
    );
    assert_eq!(keys(&run(&[f.create(), change, add]).unwrap()).len(), 2);
}

#[test]
fn a_non_recovery_cannot_change_recovery() {
    let f = fx();
    let change = update(
        &f.inbox,
        2,
        &[Spec::ChangeRecovery(Signer::I(&f.i1), f.w3.address())],
    );
    assert_eq!(
        run(&[f.create(), change]),
        Err(ReplayError::MissingExistingMember)
    );
}

#[test]
fn installations_are_ordered_by_the_timestamp_that_added_them() {
    let f = fx();
    let add = update(
        &f.inbox,
        0,
        &[Spec::AddInstallation(Signer::W(&f.w1), &f.i2)],
    );
    let s = run(&[f.create(), add]).unwrap();
    assert_eq!(
        keys(&s),
        vec![f.i2.public_key().to_vec(), f.i1.public_key().to_vec()]
    );
}

#[test]
fn incremental_replay_from_a_cached_state_equals_full_replay() {
    let f = fx();
    let add = update(
        &f.inbox,
        2,
        &[Spec::AddInstallation(Signer::W(&f.w1), &f.i2)],
    );
    let full = run(&[f.create(), add.clone()]).unwrap();
    let first = run(&[f.create()]).unwrap();
    let cached = CachedInbox::Valid {
        last_sequence_id: 1,
        state: first,
    };
    let back = CachedInbox::from_bytes(&cached.to_bytes()).unwrap();
    assert_eq!(back, cached);
    let CachedInbox::Valid { state, .. } = back else {
        unreachable!()
    };
    assert_eq!(
        replay(Some(state), &[add], &ScwResults::new()).unwrap(),
        full
    );
}

#[test]
fn erc191_recovery_follows_libxmtp_normalisation() {
    let w = Wallet::from_bytes(&[5; 32]).unwrap();
    let sig = w.sign_erc191("hello");
    let (addr, _) = xmtp::signature::recover_erc191(b"hello", &sig).unwrap();
    assert_eq!(addr, w.address());
    // v as 0/1 works too.
    let mut v01 = sig.clone();
    v01[64] -= 27;
    assert_eq!(
        xmtp::signature::recover_erc191(b"hello", &v01).unwrap().0,
        w.address()
    );
    // 64 bytes are refused; other v values too.
    assert!(xmtp::signature::recover_erc191(b"hello", &sig[..64]).is_err());
    let mut v29 = sig.clone();
    v29[64] = 29;
    assert!(xmtp::signature::recover_erc191(b"hello", &v29).is_err());
    // High-s with the same v is normalised back (accepted); flipping v as well is not.
    let n = k256::ecdsa::Signature::from_slice(&sig[..64]).unwrap();
    let (r, s) = n.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    let mut same_v = high.to_bytes().to_vec();
    same_v.push(sig[64]);
    assert_eq!(
        xmtp::signature::recover_erc191(b"hello", &same_v)
            .unwrap()
            .0,
        w.address()
    );
    let mut flipped = high.to_bytes().to_vec();
    flipped.push(if sig[64] == 27 { 28 } else { 27 });
    assert_ne!(
        xmtp::signature::recover_erc191(b"hello", &flipped)
            .unwrap()
            .0,
        w.address()
    );
}

/// A smart-contract wallet creates an inbox (the network vouches for its signature), then
/// signs from another chain: `ChainIdMismatch`. Without the network's answer: no state.
#[test]
fn smart_contract_wallet_signatures_use_the_network_answer_and_the_chain_id() {
    use xmtp::signature::{ScwRequest, ScwVerdict, eip191_hash};
    let address = "0x00000000000000000000000000000000000000aa".to_string();
    let inbox = inbox_id_raw(&address, 0);
    let scw_sig = |chain: u64| {
        Some(pb::Signature {
            signature: Some(pb::signature::Signature::Erc6492(
                pb::SmartContractWalletSignature {
                    account_id: format!("eip155:{chain}:{address}"),
                    block_number: 7,
                    signature: vec![chain as u8; 8],
                },
            )),
        })
    };
    let i1 = InstallationKey::from_seed([21; 32]);
    let build = |ts: u64, chain: u64, create: bool| {
        let mut actions = Vec::new();
        if create {
            actions.push(pb::IdentityAction {
                kind: Some(Kind::CreateInbox(pb::CreateInbox {
                    initial_identifier: address.clone(),
                    nonce: 0,
                    initial_identifier_signature: scw_sig(chain),
                    initial_identifier_kind: pb::IdentifierKind::Ethereum as i32,
                    relying_party: None,
                })),
            });
        }
        actions.push(pb::IdentityAction {
            kind: Some(Kind::Add(pb::AddAssociation {
                new_member_identifier: Some(installation(&i1)),
                existing_member_signature: scw_sig(chain),
                new_member_signature: placeholder(),
                relying_party: None,
            })),
        });
        let mut proto = pb::IdentityUpdate {
            actions,
            client_timestamp_ns: ts,
            inbox_id: inbox.clone(),
        };
        let text = signature_text(&DecodedUpdate::from_proto(proto.clone()).unwrap());
        for a in &mut proto.actions {
            if let Some(Kind::Add(add)) = &mut a.kind {
                add.new_member_signature = sign(Signer::I(&i1), &text);
            }
        }
        let req = |chain: u64| ScwRequest {
            account_id: format!("eip155:{chain}:{address}"),
            block_number: 7,
            signature: vec![chain as u8; 8],
            hash: eip191_hash(text.as_bytes()),
        };
        (DecodedUpdate::from_proto(proto).unwrap(), req(chain))
    };
    let (create, req1) = build(1, 1, true);
    assert_eq!(
        xmtp::replay::scw_requests(std::slice::from_ref(&create)).len(),
        2
    );
    let mut answers = ScwResults::new();
    assert!(
        replay(None, std::slice::from_ref(&create), &answers).is_err(),
        "unchecked is not valid"
    );
    answers.insert(req1.clone(), ScwVerdict::Invalid);
    assert!(
        replay(None, std::slice::from_ref(&create), &answers).is_err(),
        "network says invalid"
    );
    answers.insert(req1, ScwVerdict::Valid);
    let state = replay(None, std::slice::from_ref(&create), &answers).unwrap();
    assert_eq!(state.installations().len(), 1);
    let (other_chain, req2) = build(2, 2, false);
    answers.insert(req2, ScwVerdict::Valid);
    assert_eq!(
        replay(Some(state), &[other_chain], &answers),
        Err(ReplayError::ChainIdMismatch)
    );
}
