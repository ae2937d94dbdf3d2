//! The byte-exact signature text of an identity update (`docs/xmtp-identity.md` §4.2):
//! one text per update, shared by every signature in it.

use crate::model::{DecodedAction, DecodedUpdate, MemberId};

fn member_line(m: &MemberId, add: bool) -> (String, &'static str, String) {
    match (m, add) {
        (MemberId::Installation(k), true) => {
            ("Grant messaging access to app".into(), "ID", hex::encode(k))
        }
        (MemberId::Ethereum(a), true) => ("Link address to inbox".into(), "Address", a.clone()),
        (MemberId::Passkey(k), true) => ("Link passkey to inbox".into(), "Passkey", hex::encode(k)),
        (MemberId::Installation(k), false) => (
            "Revoke messaging access from app".into(),
            "ID",
            hex::encode(k),
        ),
        (MemberId::Ethereum(a), false) => {
            ("Unlink address from inbox".into(), "Address", a.clone())
        }
        (MemberId::Passkey(k), false) => (
            "Unlink passkey from inbox".into(),
            "Passkey",
            hex::encode(k),
        ),
    }
}

/// RFC 3339, UTC, whole seconds, `Z` (chrono `from_timestamp_nanos` of the value as i64,
/// sub-seconds truncated toward the past).
fn rfc3339(ns: u64) -> String {
    let dt = chrono::DateTime::from_timestamp_nanos(ns as i64);
    dt.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Builds the signature text of `update`.
pub fn signature_text(update: &DecodedUpdate) -> String {
    let mut lines: Vec<String> = vec![
        "XMTP : Authenticate to inbox".into(),
        String::new(),
        format!("Inbox ID: {}", update.inbox_id),
        format!("Current time: {}", rfc3339(update.client_timestamp_ns)),
        String::new(),
    ];
    for action in &update.actions {
        let (verb, label, value) = match action {
            DecodedAction::Create { display, .. } => {
                ("Create inbox".to_string(), "Owner", display.clone())
            }
            DecodedAction::Add { new_member, .. } => member_line(new_member, true),
            DecodedAction::Revoke { member, .. } => member_line(member, false),
            DecodedAction::ChangeRecovery { display, .. } => (
                "Change inbox recovery address".to_string(),
                "Address",
                display.clone(),
            ),
        };
        lines.push(format!("- {verb}"));
        lines.push(format!("  ({label}: {value})"));
    }
    lines.push(String::new());
    lines.push("For more info: https://xmtp.org/signatures".into());
    lines.join("\n")
}
