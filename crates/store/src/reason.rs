//! Link reasons: the verifier's stable codes ([`ReasonCode`], stored as small integers) and
//! the cap on free-text reasons (a malformed record's reason can quote untrusted input, and
//! every list of links repeats it, so it is cut when written).

use std::fmt;
use std::str::FromStr;

/// Why a link is not verified: the stable codes the verifier writes and the link view
/// shows (`reason`). The index stores each as its [`ReasonCode::number`]; free-text reasons
/// (a malformed record's) are stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReasonCode {
    /// No current installation's signature matches.
    SignatureMismatch,
    /// The signature is by an installation the inbox has revoked.
    InstallationRevoked,
    /// The inbox has no identity updates at all.
    InboxNotFound,
    /// The inbox's log does not replay.
    InboxStateInvalid,
    /// The log served for the record's inbox replays to another inbox.
    InboxIdMismatch,
    /// `verificationSignature` does not decode to 64 bytes.
    MalformedSignature,
    /// The record's inbox ID is not 64 lower-case hex characters.
    MalformedInboxId,
    /// Pending: the identity API could not be reached or failed.
    XmtpUnavailable,
    /// Pending: the network could not check a smart-contract-wallet signature.
    ScwUnchecked,
    /// Pending: an identity update this verifier cannot decode.
    IdentityUpdateUnsupported,
}

impl ReasonCode {
    /// Every code, in [`ReasonCode::number`] order.
    pub const ALL: [ReasonCode; 10] = [
        ReasonCode::SignatureMismatch,
        ReasonCode::InstallationRevoked,
        ReasonCode::InboxNotFound,
        ReasonCode::InboxStateInvalid,
        ReasonCode::InboxIdMismatch,
        ReasonCode::MalformedSignature,
        ReasonCode::MalformedInboxId,
        ReasonCode::XmtpUnavailable,
        ReasonCode::ScwUnchecked,
        ReasonCode::IdentityUpdateUnsupported,
    ];

    /// Codes of invalid links that say the XMTP side was not usable rather than that the
    /// signature is wrong: re-checked every `--reverify-after` (the index's
    /// `links_invalid_recheck` lists the same numbers).
    pub const RECHECKED: [ReasonCode; 3] = [
        ReasonCode::InboxNotFound,
        ReasonCode::InboxStateInvalid,
        ReasonCode::InboxIdMismatch,
    ];

    /// The stable string form (the link view's `reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::SignatureMismatch => "signature_mismatch",
            ReasonCode::InstallationRevoked => "installation_revoked",
            ReasonCode::InboxNotFound => "inbox_not_found",
            ReasonCode::InboxStateInvalid => "inbox_state_invalid",
            ReasonCode::InboxIdMismatch => "inbox_id_mismatch",
            ReasonCode::MalformedSignature => "malformed_signature",
            ReasonCode::MalformedInboxId => "malformed_inbox_id",
            ReasonCode::XmtpUnavailable => "xmtp_unavailable",
            ReasonCode::ScwUnchecked => "scw_unchecked",
            ReasonCode::IdentityUpdateUnsupported => "identity_update_unsupported",
        }
    }

    /// The small integer stored in `links.reason` (1-based; never reused).
    pub fn number(self) -> i64 {
        match self {
            ReasonCode::SignatureMismatch => 1,
            ReasonCode::InstallationRevoked => 2,
            ReasonCode::InboxNotFound => 3,
            ReasonCode::InboxStateInvalid => 4,
            ReasonCode::InboxIdMismatch => 5,
            ReasonCode::MalformedSignature => 6,
            ReasonCode::MalformedInboxId => 7,
            ReasonCode::XmtpUnavailable => 8,
            ReasonCode::ScwUnchecked => 9,
            ReasonCode::IdentityUpdateUnsupported => 10,
        }
    }

    /// The code stored as `n`.
    pub fn from_number(n: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.number() == n)
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is not one of the [`ReasonCode`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a reason code: {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for ReasonCode {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

/// The most bytes of a `reason` the index stores.
pub const MAX_REASON_BYTES: usize = 256;

/// `reason` cut to at most [`MAX_REASON_BYTES`] bytes, on a character boundary.
pub(crate) fn cap_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string_and_number() {
        for (i, c) in ReasonCode::ALL.into_iter().enumerate() {
            assert_eq!(c.number(), i as i64 + 1);
            assert_eq!(ReasonCode::from_number(c.number()), Some(c));
            assert_eq!(c.as_str().parse::<ReasonCode>(), Ok(c));
        }
        assert_eq!(ReasonCode::from_number(0), None);
        assert!("record is not a map".parse::<ReasonCode>().is_err());
    }

    #[test]
    fn short_reasons_are_kept_and_long_ones_cut_on_a_char_boundary() {
        assert_eq!(cap_reason("bad_signature"), "bad_signature");
        let exact = "a".repeat(MAX_REASON_BYTES);
        assert_eq!(cap_reason(&exact), exact);
        let long = "x".repeat(1 << 20);
        assert_eq!(cap_reason(&long).len(), MAX_REASON_BYTES);
        // 255 ASCII bytes then a 4-byte character straddling the cap: cut before it.
        let straddle = format!("{}🦀tail", "a".repeat(MAX_REASON_BYTES - 1));
        assert_eq!(cap_reason(&straddle), "a".repeat(MAX_REASON_BYTES - 1));
        let wide = "é".repeat(MAX_REASON_BYTES);
        let cut = cap_reason(&wide);
        assert_eq!(cut.len(), MAX_REASON_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
