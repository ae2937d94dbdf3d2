//! The XRPC query server (axum): org.xmtp.identity.* methods, health, metrics, did.json.
