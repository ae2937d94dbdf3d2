//! Handle → DID: DNS TXT `_atproto.<handle>` (exactly one `did=` value), HTTPS
//! `/.well-known/atproto-did`, or `com.atproto.identity.resolveHandle` on a service.

use hickory_resolver::TokioResolver;
use reqwest::{Client, Url};
use syntax::{Did, Handle};

use crate::error::IdentityError;
use crate::http::{get_guarded, get_trusted, status_error};

/// TLDs that never resolve (`.test` is allowed only with private networks, for dev).
const DISALLOWED_TLDS: &[&str] = &[
    "alt",
    "arpa",
    "example",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
];

/// Whether `handle` may be resolved at all.
pub(crate) fn check_tld(handle: &Handle, allow_private: bool) -> Result<(), IdentityError> {
    let tld = handle.as_str().rsplit('.').next().unwrap_or_default();
    if DISALLOWED_TLDS.contains(&tld) || (tld == "test" && !allow_private) {
        return Err(IdentityError::NotFound(format!(
            "handle {handle} has a reserved TLD"
        )));
    }
    Ok(())
}

/// Picks the DID out of the TXT strings at `_atproto.<handle>`: only values starting with
/// `did=` count, and exactly one distinct valid DID must be present.
pub fn parse_txt_did<S: AsRef<str>>(records: &[S]) -> Result<Did, IdentityError> {
    let mut found: Option<Did> = None;
    for r in records {
        let Some(v) = r.as_ref().trim().strip_prefix("did=") else {
            continue;
        };
        let did = Did::parse(v.trim()).map_err(|e| IdentityError::InvalidHandle(e.to_string()))?;
        match &found {
            Some(f) if *f != did => {
                return Err(IdentityError::InvalidHandle(
                    "several DIDs in _atproto TXT records".into(),
                ));
            }
            _ => found = Some(did),
        }
    }
    found.ok_or_else(|| IdentityError::NotFound("no did= TXT record".into()))
}

/// DNS TXT method.
pub(crate) async fn resolve_dns(
    dns: &TokioResolver,
    handle: &Handle,
    timeout: std::time::Duration,
) -> Result<Did, IdentityError> {
    let name = format!("_atproto.{handle}.");
    let lookup = match tokio::time::timeout(timeout, dns.txt_lookup(name)).await {
        Err(_) => return Err(IdentityError::Network(format!("DNS timeout for {handle}"))),
        Ok(Err(e)) if e.is_nx_domain() || e.is_no_records_found() => {
            return Err(IdentityError::NotFound(format!(
                "no _atproto TXT for {handle}"
            )));
        }
        Ok(Err(e)) => return Err(IdentityError::Network(format!("DNS: {e}"))),
        Ok(Ok(l)) => l,
    };
    let records: Vec<String> = lookup
        .iter()
        .map(|txt| {
            txt.txt_data()
                .iter()
                .map(|d| String::from_utf8_lossy(d))
                .collect::<String>()
        })
        .collect();
    parse_txt_did(&records)
}

/// HTTPS well-known method (guarded client). `base` replaces `https://<handle>` in dev/tests.
pub(crate) async fn resolve_well_known(
    client: &netguard::GuardedClient,
    handle: &Handle,
    base: Option<&str>,
) -> Result<Did, IdentityError> {
    let (url, host) = match base {
        Some(b) => (
            format!("{}/.well-known/atproto-did", b.trim_end_matches('/')),
            Some(handle.as_str()),
        ),
        None => (format!("https://{handle}/.well-known/atproto-did"), None),
    };
    let url = Url::parse(&url).map_err(|e| IdentityError::InvalidHandle(e.to_string()))?;
    let f = get_guarded(client, url, host, 2048).await?;
    if !f.status.is_success() {
        return Err(status_error(f.status, handle.as_str(), &f.body));
    }
    parse_well_known_body(&f.body)
}

/// Reads the DID out of a `/.well-known/atproto-did` body: the whole body, trimmed, must be
/// one valid DID.
pub fn parse_well_known_body(body: &[u8]) -> Result<Did, IdentityError> {
    let text = String::from_utf8_lossy(body);
    Did::parse(text.trim())
        .map_err(|e| IdentityError::InvalidHandle(format!("well-known body: {e}")))
}

/// `com.atproto.identity.resolveHandle` on a trusted service.
pub(crate) async fn resolve_via_service(
    client: &Client,
    service: &str,
    handle: &Handle,
) -> Result<Did, IdentityError> {
    let mut url = Url::parse(&format!(
        "{}/xrpc/com.atproto.identity.resolveHandle",
        service.trim_end_matches('/')
    ))
    .map_err(|e| IdentityError::Network(format!("bad resolveHandle service URL: {e}")))?;
    url.query_pairs_mut().append_pair("handle", handle.as_str());
    let f = get_trusted(client, url, 4096).await?;
    if f.status.as_u16() == 400 && String::from_utf8_lossy(&f.body).contains("HandleNotFound") {
        return Err(IdentityError::NotFound(handle.to_string()));
    }
    if !f.status.is_success() {
        return Err(status_error(f.status, handle.as_str(), &f.body));
    }
    let json: serde_json::Value = serde_json::from_slice(&f.body)
        .map_err(|e| IdentityError::InvalidHandle(format!("resolveHandle: {e}")))?;
    let did = json.get("did").and_then(|d| d.as_str()).unwrap_or_default();
    Did::parse(did).map_err(|e| IdentityError::InvalidHandle(format!("resolveHandle: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_body_is_one_trimmed_did() {
        assert_eq!(
            parse_well_known_body(b" did:plc:abc\r\n").unwrap().as_str(),
            "did:plc:abc"
        );
        for bad in [
            &b""[..],
            b"did:plc:abc did:plc:def",
            b"\xffdid:plc:abc",
            b"<html>",
        ] {
            assert!(matches!(
                parse_well_known_body(bad),
                Err(IdentityError::InvalidHandle(m)) if m.starts_with("well-known body")
            ));
        }
    }

    #[test]
    fn txt_records_need_exactly_one_distinct_did() {
        assert_eq!(
            parse_txt_did(&["did=did:plc:abc"]).unwrap().as_str(),
            "did:plc:abc"
        );
        assert_eq!(
            parse_txt_did(&["v=spf1", "did=did:plc:abc", "did=did:plc:abc"])
                .unwrap()
                .as_str(),
            "did:plc:abc"
        );
        assert!(matches!(
            parse_txt_did(&["did=did:plc:abc", "did=did:plc:xyz"]),
            Err(IdentityError::InvalidHandle(_))
        ));
        assert!(matches!(
            parse_txt_did(&["hello"]),
            Err(IdentityError::NotFound(_))
        ));
        assert!(matches!(
            parse_txt_did::<&str>(&[]),
            Err(IdentityError::NotFound(_))
        ));
        assert!(matches!(
            parse_txt_did(&["did=not a did"]),
            Err(IdentityError::InvalidHandle(_))
        ));
    }

    #[test]
    fn reserved_tlds_are_not_resolved() {
        for h in ["a.example", "b.local", "c.onion", "d.invalid", "e.test"] {
            assert!(check_tld(&Handle::parse(h).unwrap(), false).is_err(), "{h}");
        }
        assert!(check_tld(&Handle::parse("e.test").unwrap(), true).is_ok());
        assert!(check_tld(&Handle::parse("alice.bsky.social").unwrap(), false).is_ok());
    }
}
