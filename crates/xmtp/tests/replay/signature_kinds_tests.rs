//! The less common signature kinds end to end through replay: a passkey (WebAuthn P-256)
//! owner and a legacy XMTP v2 delegated key (`docs/xmtp-identity.md` §4.3).

use pb::identity_action::Kind;
use prost::Message as _;
use testkit::xmtp::Wallet;
use xmtp::inbox_id::inbox_id_raw;
use xmtp::installation::InstallationKey;
use xmtp::model::DecodedUpdate;
use xmtp::proto::associations as pb;
use xmtp::proto::message_contents as mc;
use xmtp::replay::{ReplayError, replay};
use xmtp::signature::ScwResults;
use xmtp::text::signature_text;

fn placeholder() -> Option<pb::Signature> {
    Some(pb::Signature {
        signature: Some(pb::signature::Signature::Erc191(
            pb::RecoverableEcdsaSignature { bytes: vec![] },
        )),
    })
}

/// CreateInbox(owner) + AddAssociation(installation), with `owner_sig(text)` as the owner's
/// signature in both actions.
fn create_with(
    owner: &str,
    kind: pb::IdentifierKind,
    nonce: u64,
    inst: &InstallationKey,
    owner_sig: impl Fn(&str) -> pb::Signature,
) -> DecodedUpdate {
    let inbox_id = inbox_id_raw(owner, nonce);
    let mut proto = pb::IdentityUpdate {
        actions: vec![
            pb::IdentityAction {
                kind: Some(Kind::CreateInbox(pb::CreateInbox {
                    initial_identifier: owner.into(),
                    nonce,
                    initial_identifier_signature: placeholder(),
                    initial_identifier_kind: kind as i32,
                    relying_party: None,
                })),
            },
            pb::IdentityAction {
                kind: Some(Kind::Add(pb::AddAssociation {
                    new_member_identifier: Some(pb::MemberIdentifier {
                        kind: Some(pb::member_identifier::Kind::InstallationPublicKey(
                            inst.public_key().to_vec(),
                        )),
                    }),
                    existing_member_signature: placeholder(),
                    new_member_signature: placeholder(),
                    relying_party: None,
                })),
            },
        ],
        client_timestamp_ns: 1,
        inbox_id,
    };
    let text = signature_text(&DecodedUpdate::from_proto(proto.clone()).unwrap());
    let sig = owner_sig(&text);
    for a in &mut proto.actions {
        match a.kind.as_mut().unwrap() {
            Kind::CreateInbox(c) => c.initial_identifier_signature = Some(sig.clone()),
            Kind::Add(add) => {
                add.existing_member_signature = Some(sig.clone());
                add.new_member_signature = Some(pb::Signature {
                    signature: Some(pb::signature::Signature::InstallationKey(
                        pb::RecoverableEd25519Signature {
                            bytes: inst.sign_identity_update(&text).to_vec(),
                            public_key: inst.public_key().to_vec(),
                        },
                    )),
                });
            }
            _ => unreachable!(),
        }
    }
    DecodedUpdate::from_proto(proto).unwrap()
}

fn passkey_sig(key: &p256::ecdsa::SigningKey, text: &str, challenge_ok: bool) -> pb::Signature {
    use base64::Engine as _;
    use p256::ecdsa::signature::Signer as _;
    use sha2::Digest as _;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(if challenge_ok {
        text.to_string()
    } else {
        format!("{text} ")
    });
    let client_data = format!(
        r#"{{"type":"webauthn.get","challenge":"{challenge}","origin":"https://app.example"}}"#
    );
    let authenticator_data = vec![7u8; 37];
    let mut msg = authenticator_data.clone();
    msg.extend_from_slice(&sha2::Sha256::digest(client_data.as_bytes()));
    let sig: p256::ecdsa::Signature = key.sign(&msg);
    pb::Signature {
        signature: Some(pb::signature::Signature::Passkey(
            pb::RecoverablePasskeySignature {
                public_key: key
                    .verifying_key()
                    .to_encoded_point(true)
                    .as_bytes()
                    .to_vec(),
                signature: sig.to_der().as_bytes().to_vec(),
                authenticator_data,
                client_data_json: client_data.into_bytes(),
            },
        )),
    }
}

#[test]
fn a_passkey_owner_creates_an_inbox_and_adds_an_installation() {
    let key = p256::ecdsa::SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
    let owner = hex::encode(key.verifying_key().to_encoded_point(true).as_bytes());
    let inst = InstallationKey::from_seed([4; 32]);
    let good = create_with(&owner, pb::IdentifierKind::Passkey, 0, &inst, |t| {
        passkey_sig(&key, t, true)
    });
    let state = replay(None, &[good], &ScwResults::new()).unwrap();
    assert_eq!(state.inbox_id, inbox_id_raw(&owner, 0));
    assert_eq!(state.installations()[0].key, inst.public_key().to_vec());
    let bad = create_with(&owner, pb::IdentifierKind::Passkey, 0, &inst, |t| {
        passkey_sig(&key, t, false)
    });
    assert!(matches!(
        replay(None, &[bad], &ScwResults::new()),
        Err(ReplayError::Signature(_))
    ));
}

/// A v2 identity key signed by the wallet ("XMTP : Create Identity"), which then signs the
/// update text with EIP-191.
fn legacy_sig(wallet: &Wallet, v2: &Wallet, text: &str) -> pb::Signature {
    let unsigned = mc::UnsignedPublicKey {
        created_ns: 1,
        union: Some(mc::unsigned_public_key::Union::Secp256k1Uncompressed(
            mc::Secp256k1Uncompressed {
                bytes: v2.public_key_uncompressed(),
            },
        )),
    };
    let key_bytes = unsigned.encode_to_vec();
    let legacy_text = format!(
        "XMTP : Create Identity\n{}\n\nFor more info: https://xmtp.org/signatures/",
        hex::encode(&key_bytes)
    );
    let wallet_sig = wallet.sign_erc191(&legacy_text);
    pb::Signature {
        signature: Some(pb::signature::Signature::DelegatedErc191(
            pb::LegacyDelegatedSignature {
                delegated_key: Some(mc::SignedPublicKey {
                    key_bytes,
                    signature: Some(mc::Signature {
                        union: Some(mc::signature::Union::WalletEcdsaCompact(mc::EcdsaCompact {
                            bytes: wallet_sig[..64].to_vec(),
                            recovery: u32::from(wallet_sig[64] - 27),
                        })),
                    }),
                }),
                signature: Some(pb::RecoverableEcdsaSignature {
                    bytes: v2.sign_erc191(text),
                }),
            },
        )),
    }
}

#[test]
fn a_legacy_delegated_key_may_create_only_the_nonce_zero_inbox() {
    let wallet = Wallet::from_bytes(&[6; 32]).unwrap();
    let v2 = Wallet::from_bytes(&[7; 32]).unwrap();
    let inst = InstallationKey::from_seed([8; 32]);
    let eth = pb::IdentifierKind::Ethereum;
    let nonce0 = create_with(&wallet.address(), eth, 0, &inst, |t| {
        legacy_sig(&wallet, &v2, t)
    });
    let state = replay(None, &[nonce0], &ScwResults::new()).unwrap();
    assert_eq!(state.installations().len(), 1);
    let nonce1 = create_with(&wallet.address(), eth, 1, &inst, |t| {
        legacy_sig(&wallet, &v2, t)
    });
    assert_eq!(
        replay(None, &[nonce1], &ScwResults::new()),
        Err(ReplayError::LegacySignatureReuse)
    );
    // A v2 key the wallet did not sign for: the recovered account is someone else.
    let other = Wallet::from_bytes(&[8; 32]).unwrap();
    let forged = create_with(&wallet.address(), eth, 0, &inst, |t| {
        legacy_sig(&other, &v2, t)
    });
    assert_eq!(
        replay(None, &[forged], &ScwResults::new()),
        Err(ReplayError::MissingExistingMember)
    );
}
