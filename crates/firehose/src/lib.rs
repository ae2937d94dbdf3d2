//! subscribeRepos client: WebSocket, backoff, cursor, filter-first frame decoding, commit verification, ingest into the store.
