//! The XMTP identity subset: installation signatures, inbox IDs, identity-update replay, IdentityApi gRPC client.
