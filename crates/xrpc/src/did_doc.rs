//! The AppView's own DID document, served at `/.well-known/did.json` for a host-only did:web.

use serde_json::{Value, json};

/// The service fragment that clients look up (`did:web:host#xmtp_appview`).
pub(crate) const SERVICE_ID: &str = "#xmtp_appview";

/// The DID document of `did`, or `None` unless it is a did:web without a path (only those
/// resolve through `/.well-known/did.json`).
pub(crate) fn did_document(did: &str) -> Option<Value> {
    let parsed = syntax::Did::parse(did).ok()?;
    if parsed.method() != "web" {
        return None;
    }
    let host_part = parsed.identifier();
    if host_part.contains(':') || host_part.is_empty() {
        return None;
    }
    // A port is percent-encoded as %3A in did:web.
    let host = host_part.replace("%3A", ":").replace("%3a", ":");
    if host.contains('%') {
        return None;
    }
    Some(json!({
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "service": [{
            "id": SERVICE_ID,
            "type": "XmtpAppView",
            "serviceEndpoint": format!("https://{host}"),
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_host_only_did_web_gets_a_document() {
        let doc = did_document("did:web:appview.example.com").unwrap();
        assert_eq!(doc["id"], "did:web:appview.example.com");
        assert_eq!(doc["service"][0]["id"], "#xmtp_appview");
        assert_eq!(
            doc["service"][0]["serviceEndpoint"],
            "https://appview.example.com"
        );
        let doc = did_document("did:web:localhost%3A2585").unwrap();
        assert_eq!(
            doc["service"][0]["serviceEndpoint"],
            "https://localhost:2585"
        );
        assert!(did_document("did:web:example.com:u:alice").is_none());
        assert!(did_document("did:plc:abc").is_none());
        assert!(did_document("not a did").is_none());
    }
}
