//! DID and handle resolution (PLC, did:web, DNS TXT, HTTPS) with a cache.
