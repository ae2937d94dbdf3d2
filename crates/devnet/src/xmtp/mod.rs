//! The XMTP side of the devnet: an `xmtp.identity.api.v1.IdentityApi` stand-in.
