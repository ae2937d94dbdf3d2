//! The PLC directory: `GET /{did}` serves a DID document, `GET /{did}/data` the raw PLC
//! state; controls register, update (rotate key, change handle, move PDS) and tombstone.
//!
//! Identifiers are deterministic: `did:plc:` + the first 24 characters of base32-lower
//! SHA-256 over a counter and a hint, so a devnet run is reproducible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::error::AtmosphereError;
use super::http::{HttpFaults, ServerHandle, SharedFaults, fault_layer, set_faults};
use super::locks::lock;

/// One PLC registration, the state behind a DID document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlcEntry {
    /// The `did:plc:...` identifier.
    pub did: String,
    /// The handle announced in `alsoKnownAs` (`at://<handle>`), if any.
    pub handle: Option<String>,
    /// The `#atproto` signing key as a Multikey multibase string (`z...`).
    pub signing_key_multibase: String,
    /// The `#atproto_pds` service endpoint (PDS base URL).
    pub pds_endpoint: String,
}

impl PlcEntry {
    /// `alsoKnownAs`: the handle as an `at://` URI, if any.
    fn also_known_as(&self) -> Vec<String> {
        self.handle
            .iter()
            .map(|handle| format!("at://{handle}"))
            .collect()
    }

    /// The W3C DID document as plc.directory renders it.
    pub fn document(&self) -> serde_json::Value {
        json!({
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
                "https://w3id.org/security/suites/secp256k1-2019/v1"
            ],
            "id": self.did,
            "alsoKnownAs": self.also_known_as(),
            "verificationMethod": [{
                "id": format!("{}#atproto", self.did),
                "type": "Multikey",
                "controller": self.did,
                "publicKeyMultibase": self.signing_key_multibase,
            }],
            "service": [{
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": self.pds_endpoint,
            }]
        })
    }

    /// The raw PLC state (`/{did}/data`).
    pub fn data(&self) -> serde_json::Value {
        json!({
            "did": self.did,
            "verificationMethods": { "atproto": format!("did:key:{}", self.signing_key_multibase) },
            "rotationKeys": [format!("did:key:{}", self.signing_key_multibase)],
            "alsoKnownAs": self.also_known_as(),
            "services": {
                "atproto_pds": { "type": "AtprotoPersonalDataServer", "endpoint": self.pds_endpoint }
            }
        })
    }
}

#[derive(Debug, Default)]
struct PlcState {
    entries: HashMap<String, PlcEntry>,
    tombstoned: HashMap<String, PlcEntry>,
    minted: u64,
}

/// Shared state of the directory; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlcShared {
    state: Arc<Mutex<PlcState>>,
    faults: SharedFaults,
}

impl PlcShared {
    fn lock(&self) -> MutexGuard<'_, PlcState> {
        lock(&self.state)
    }
}

/// A running PLC directory on loopback. Cloning shares the same directory.
#[derive(Debug, Clone)]
pub struct PlcDirectory {
    shared: PlcShared,
    server: Arc<ServerHandle>,
}

impl PlcDirectory {
    /// Starts the directory on `127.0.0.1:0`.
    pub async fn start() -> Result<PlcDirectory, AtmosphereError> {
        let shared = PlcShared::default();
        let server =
            ServerHandle::spawn("plc", router(shared.clone()), watch::channel(false).0).await?;
        Ok(PlcDirectory {
            shared,
            server: Arc::new(server),
        })
    }

    /// Base URL, e.g. `http://127.0.0.1:40001`.
    pub fn url(&self) -> String {
        self.server.http_url()
    }

    /// Mints a fresh, deterministic `did:plc:` identifier (not yet registered).
    pub fn mint_did(&self, hint: &str) -> String {
        let mut state = self.shared.lock();
        state.minted += 1;
        let mut hasher = Sha256::new();
        hasher.update(b"xmtp-appview devnet did:plc\0");
        hasher.update(state.minted.to_be_bytes());
        hasher.update(hint.as_bytes());
        let digest = hasher.finalize();
        let encoded = multibase::Base::Base32Lower.encode(digest);
        format!("did:plc:{}", &encoded[..24])
    }

    /// Registers (or replaces) an entry.
    pub fn register(&self, entry: PlcEntry) {
        let mut state = self.shared.lock();
        state.tombstoned.remove(&entry.did);
        state.entries.insert(entry.did.clone(), entry);
    }

    /// Applies `change` to a registered entry (rotate key, change handle, move PDS).
    pub fn update(
        &self,
        did: &str,
        change: impl FnOnce(&mut PlcEntry),
    ) -> Result<PlcEntry, AtmosphereError> {
        let mut state = self.shared.lock();
        let entry = state
            .entries
            .get_mut(did)
            .ok_or_else(|| AtmosphereError::UnknownAccount(did.to_owned()))?;
        change(entry);
        Ok(entry.clone())
    }

    /// Tombstones a DID: it then answers 404 `DID not available`.
    pub fn tombstone(&self, did: &str) -> Result<(), AtmosphereError> {
        let mut state = self.shared.lock();
        let entry = state
            .entries
            .remove(did)
            .ok_or_else(|| AtmosphereError::UnknownAccount(did.to_owned()))?;
        state.tombstoned.insert(did.to_owned(), entry);
        Ok(())
    }

    /// Replaces the HTTP fault settings (latency, 429, down).
    pub fn set_faults(&self, faults: HttpFaults) {
        set_faults(&self.shared.faults, faults);
    }

    /// The current entry of a DID (None when unknown or tombstoned).
    pub fn entry(&self, did: &str) -> Option<PlcEntry> {
        self.shared.lock().entries.get(did).cloned()
    }
}

fn router(shared: PlcShared) -> Router {
    let faults = shared.faults.clone();
    Router::new()
        .route("/{did}", get(get_document))
        .route("/{did}/data", get(get_data))
        .layer(axum::middleware::from_fn_with_state(faults, fault_layer))
        .with_state(shared)
}

enum Lookup {
    Found(PlcEntry),
    Tombstoned,
    Missing,
}

fn lookup(shared: &PlcShared, did: &str) -> Lookup {
    let state = shared.lock();
    if let Some(entry) = state.entries.get(did) {
        Lookup::Found(entry.clone())
    } else if state.tombstoned.contains_key(did) {
        Lookup::Tombstoned
    } else {
        Lookup::Missing
    }
}

fn not_found(did: &str, lookup: &Lookup) -> Response {
    let message = match lookup {
        Lookup::Tombstoned => format!("DID not available: {did}"),
        _ => format!("DID not registered: {did}"),
    };
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "message": message })),
    )
        .into_response()
}

async fn get_document(State(shared): State<PlcShared>, Path(did): Path<String>) -> Response {
    match lookup(&shared, &did) {
        Lookup::Found(entry) => (
            [(header::CONTENT_TYPE, "application/did+ld+json")],
            entry.document().to_string(),
        )
            .into_response(),
        other => not_found(&did, &other),
    }
}

async fn get_data(State(shared): State<PlcShared>, Path(did): Path<String>) -> Response {
    match lookup(&shared, &did) {
        Lookup::Found(entry) => axum::Json(entry.data()).into_response(),
        other => not_found(&did, &other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(did: &str) -> PlcEntry {
        PlcEntry {
            did: did.to_owned(),
            handle: Some("alice.devnet.test".to_owned()),
            signing_key_multibase: "zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme".to_owned(),
            pds_endpoint: "http://127.0.0.1:1".to_owned(),
        }
    }

    #[tokio::test]
    async fn minted_dids_are_24_base32_chars_and_distinct() {
        let plc = PlcDirectory::start().await.unwrap();
        let a = plc.mint_did("alice");
        let b = plc.mint_did("alice");
        assert_ne!(a, b);
        let id = a.strip_prefix("did:plc:").unwrap();
        assert_eq!(id.len(), 24);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
    }

    #[tokio::test]
    async fn document_has_key_handle_and_pds() {
        let plc = PlcDirectory::start().await.unwrap();
        let did = plc.mint_did("alice");
        plc.register(entry(&did));
        let doc = plc.entry(&did).unwrap().document();
        assert_eq!(doc["id"], did.as_str());
        assert_eq!(doc["alsoKnownAs"][0], "at://alice.devnet.test");
        assert_eq!(doc["verificationMethod"][0]["id"], format!("{did}#atproto"));
        assert_eq!(doc["service"][0]["serviceEndpoint"], "http://127.0.0.1:1");
        plc.tombstone(&did).unwrap();
        assert!(plc.entry(&did).is_none());
    }
}
