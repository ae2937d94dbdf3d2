//! The two-way check of one actor, as the `verify` command runs it: no database. Resolves
//! the actor (a handle must resolve to a DID whose document claims it back), fetches
//! `org.xmtp.inbox/self` from the PDS with `sync.getRecord` and checks the proof like a
//! firehose commit, reads the record leniently, fetches the inbox's identity log from the
//! XMTP API and checks the signature over the DID against a current installation. Every
//! step is kept in the [`Report`] with its evidence.

use identity::{IdentityError, Resolver};
use serde::Serialize;
use sync::RecordFetcher;
use sync::resync::{InboxOutcome, ResyncError, fetch_inbox_changes};
use syntax::{Cid, Did, Handle, Tid};
use xmtp::api::IdentityApi;

use crate::oneshot::verify_link;
use crate::verdict::Reason;

/// The verdict class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Both halves hold.
    Verified,
    /// Evidence says the link does not hold.
    NotVerified,
    /// Bad input or a network failure: no verdict.
    Error,
}

/// One step of the check.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What was checked.
    pub step: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// The evidence, or why it failed.
    pub detail: String,
}

/// The record as found in the repo.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordOut {
    /// `at://<did>/org.xmtp.inbox/self`.
    pub uri: String,
    /// The record CID.
    pub cid: String,
    /// The inbox ID it names.
    pub inbox_id: String,
    /// The signature over the DID.
    pub verification_signature: String,
    /// `createdAt`.
    pub created_at: String,
}

/// The signed commit that proved the record (or its absence).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitOut {
    /// The commit rev.
    pub rev: Tid,
    /// The commit CID.
    pub cid: Cid,
    /// The MST root CID.
    pub data_cid: Cid,
}

/// The whole report (`--json` prints it as one object).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The actor as given.
    pub input: String,
    /// `verified`, `not_verified` or `error`.
    pub outcome: Outcome,
    /// Why not verified, or the error class (`unknown_handle`, `network`, ...).
    pub reason: Option<String>,
    /// The DID.
    pub did: Option<Did>,
    /// The handle verified both ways, if any.
    pub handle: Option<Handle>,
    /// The PDS asked.
    pub pds: Option<String>,
    /// The proving commit.
    pub commit: Option<CommitOut>,
    /// The record.
    pub record: Option<RecordOut>,
    /// Hex of the installation key that verified the signature.
    pub installation_key: Option<String>,
    /// Every step, in order.
    pub steps: Vec<Step>,
}

impl Report {
    fn step(&mut self, step: &'static str, ok: bool, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            ok,
            detail: detail.into(),
        });
    }

    fn finish(mut self, outcome: Outcome, reason: Option<&str>) -> Report {
        self.outcome = outcome;
        self.reason = reason.map(str::to_owned);
        self
    }
}

fn identity_failure(e: &IdentityError) -> &'static str {
    if e.is_transient() {
        "network"
    } else {
        "unknown_did"
    }
}

/// Resolves the actor to a DID (and its verified handle). `Err` is the finished report.
async fn resolve_actor(resolver: &Resolver, mut report: Report) -> Result<(Did, Report), Report> {
    let input = report.input.trim().to_string();
    if input.starts_with("did:") {
        let did = match Did::parse(&input) {
            Ok(d) => d,
            Err(e) => {
                report.step("parse", false, format!("not a DID: {e}"));
                return Err(report.finish(Outcome::Error, Some("bad_input")));
            }
        };
        report.did = Some(did.clone());
        match resolver.verified_handle(&did).await {
            Ok(handle) => {
                report.handle = handle.clone();
                let detail = match &handle {
                    Some(h) => format!("{did} (handle {h} verified both ways)"),
                    None => format!("{did} (no handle verified both ways)"),
                };
                report.step("did", true, detail);
                Ok((did, report))
            }
            Err(e) => {
                report.step("did", false, format!("{did}: {e}"));
                let why = identity_failure(&e);
                Err(report.finish(Outcome::Error, Some(why)))
            }
        }
    } else {
        let handle = match Handle::parse(input.trim_start_matches('@')) {
            Ok(h) => h,
            Err(e) => {
                report.step("parse", false, format!("neither a DID nor a handle: {e}"));
                return Err(report.finish(Outcome::Error, Some("bad_input")));
            }
        };
        let did = match resolver.resolve_handle(&handle).await {
            Ok(d) => d,
            Err(e) => {
                report.step("handle", false, format!("{handle}: {e}"));
                let why = if e.is_transient() {
                    "network"
                } else {
                    "unknown_handle"
                };
                return Err(report.finish(Outcome::Error, Some(why)));
            }
        };
        report.did = Some(did.clone());
        match resolver.verified_handle(&did).await {
            Ok(Some(h)) if h == handle => {
                report.handle = Some(h);
                report.step("handle", true, format!("{handle} -> {did}, and back"));
                Ok((did, report))
            }
            Ok(other) => {
                report.step(
                    "handle",
                    false,
                    format!(
                        "{handle} -> {did}, but its DID document claims {}",
                        other.map_or("no handle".to_string(), |h| h.as_str().to_string())
                    ),
                );
                Err(report.finish(Outcome::Error, Some("unknown_handle")))
            }
            Err(e) => {
                report.step("did", false, format!("{did}: {e}"));
                let why = identity_failure(&e);
                Err(report.finish(Outcome::Error, Some(why)))
            }
        }
    }
}

/// What the two-way check talks to.
pub struct Sources<'a> {
    /// Resolves the actor (its handle both ways), and the DID's signing key and PDS.
    pub resolver: &'a Resolver,
    /// `sync.getRecord` at the DID's PDS.
    pub fetcher: &'a dyn RecordFetcher,
    /// The XMTP identity API.
    pub api: &'a dyn IdentityApi,
    /// The XMTP API's address, named in the report when it fails.
    pub xmtp_endpoint: &'a str,
}

/// Runs the whole two-way check of `actor` (a handle or a DID) and returns the report with
/// every step; it never fails: a network fault is an [`Outcome::Error`], never a verdict.
pub async fn check(actor: &str, sources: &Sources<'_>) -> Report {
    let endpoint = sources.xmtp_endpoint;
    let report = Report {
        input: actor.to_string(),
        outcome: Outcome::Error,
        reason: None,
        did: None,
        handle: None,
        pds: None,
        commit: None,
        record: None,
        installation_key: None,
        steps: Vec::new(),
    };
    let (did, mut report) = match resolve_actor(sources.resolver, report).await {
        Ok(x) => x,
        Err(report) => return report,
    };

    // The ATProto half: the record in the DID's signed repo.
    let fetched = match fetch_inbox_changes(sources.resolver, sources.fetcher, &did).await {
        Ok(f) => f,
        Err(ResyncError::Transient(why)) => {
            report.step("record", false, format!("getRecord: {why}"));
            return report.finish(Outcome::Error, Some("network"));
        }
        Err(ResyncError::Permanent(why)) => {
            report.step(
                "record",
                false,
                format!("the PDS's proof does not check out: {why}"),
            );
            return report.finish(Outcome::NotVerified, Some("bad_proof"));
        }
    };
    report.pds = Some(fetched.pds.clone());
    report.step("pds", true, fetched.pds.clone());
    if let Some(c) = fetched.commit() {
        report.commit = Some(CommitOut {
            rev: c.rev.clone(),
            cid: c.commit_cid.clone(),
            data_cid: c.data_cid.clone(),
        });
    }
    let record = match fetched.outcome {
        InboxOutcome::Present { commit, record } => {
            report.step(
                "record",
                true,
                format!(
                    "at://{did}/org.xmtp.inbox/self cid {} in signed commit {} (rev {})",
                    record.cid, commit.commit_cid, commit.rev
                ),
            );
            report.record = Some(RecordOut {
                uri: format!("at://{did}/org.xmtp.inbox/self"),
                cid: record.cid.to_string(),
                inbox_id: record.inbox_id.clone(),
                verification_signature: record.verification_signature.clone(),
                created_at: record.created_at.clone(),
            });
            record
        }
        InboxOutcome::Absent { commit } => {
            report.step(
                "record",
                false,
                format!(
                    "no org.xmtp.inbox/self: proven absent in signed commit {} (rev {})",
                    commit.commit_cid, commit.rev
                ),
            );
            return report.finish(Outcome::NotVerified, Some("no_record"));
        }
        InboxOutcome::Unproven => {
            report.step(
                "record",
                false,
                "the PDS says RecordNotFound (no proof offered)",
            );
            return report.finish(Outcome::NotVerified, Some("no_record"));
        }
    };
    if let Some(why) = &record.malformed {
        report.step("parse", false, format!("malformed record: {why}"));
        return report.finish(Outcome::NotVerified, Some("malformed_record"));
    }
    report.step("parse", true, format!("inbox {}", record.inbox_id));

    // The XMTP half: a current installation of the inbox signed the DID.
    match verify_link(
        sources.api,
        &did,
        &record.inbox_id,
        &record.verification_signature,
    )
    .await
    {
        Ok(v) if v.is_verified() => {
            report.installation_key = v.installation_key.clone();
            report.step(
                "xmtp",
                true,
                format!(
                    "installation {} of inbox {} signed {did}",
                    v.installation_key.as_deref().unwrap_or("?"),
                    record.inbox_id
                ),
            );
            report.finish(Outcome::Verified, None)
        }
        // The XMTP side could not be evaluated (not evidence): no verdict.
        Ok(v) if v.reason.as_ref().is_some_and(|r| !r.is_evidence()) => {
            let code = v.reason.as_ref().map_or("not_verified", |r| r.code());
            report.step("xmtp", false, format!("inbox {}: {code}", record.inbox_id));
            report.finish(Outcome::Error, Some(code))
        }
        Ok(v) => {
            let code = v.reason.as_ref().map_or("not_verified", |r| r.code());
            let detail = match &v.reason {
                Some(Reason::InboxStateInvalid(why)) => format!("{code}: {why}"),
                _ => code.to_string(),
            };
            report.step(
                "xmtp",
                false,
                format!("inbox {}: {detail}", record.inbox_id),
            );
            report.finish(Outcome::NotVerified, Some(code))
        }
        Err(e) => {
            report.step("xmtp", false, format!("{endpoint}: {e}"));
            report.finish(Outcome::Error, Some("network"))
        }
    }
}
