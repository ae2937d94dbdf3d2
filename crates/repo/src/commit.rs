//! The signed repository commit object (format v3, v2 accepted): decode, canonical unsigned
//! bytes, sign and verify.

use cid::Cid;

use crate::cbor::{self, CborError, Encoder, Limits, Value};
use crate::cid_util::{cid_for_cbor, sha256};
use crate::keys::{KeyError, PrivateKey, PublicKey};

/// Why a commit block was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitDecodeError {
    /// Not decodable CBOR.
    #[error("commit CBOR: {0}")]
    Cbor(#[from] CborError),
    /// Not a map.
    #[error("commit is not a map")]
    NotMap,
    /// A required field is missing or has the wrong type.
    #[error("commit field {0:?} missing or of the wrong type")]
    Field(&'static str),
    /// A field that v3 commits do not have (the signature could not cover it faithfully).
    #[error("unexpected commit field {0:?}")]
    UnknownField(String),
    /// Version other than 2 or 3.
    #[error("unsupported commit version {0}")]
    Version(i128),
}

/// A repository commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Account DID.
    pub did: String,
    /// Repo format version (3; 2 accepted on decode).
    pub version: i64,
    /// MST root.
    pub data: Cid,
    /// Revision TID.
    pub rev: String,
    /// Previous commit (always null in practice, but present in the map).
    pub prev: Option<Cid>,
    /// 64-byte signature (empty before signing).
    pub sig: Vec<u8>,
}

impl Commit {
    /// A new unsigned v3 commit.
    pub fn new_unsigned(did: impl Into<String>, data: Cid, rev: impl Into<String>) -> Self {
        Commit {
            did: did.into(),
            version: 3,
            data,
            rev: rev.into(),
            prev: None,
            sig: Vec::new(),
        }
    }

    /// Decodes a commit block (lenient CBOR; exactly the v3 keys, `prev` may be absent).
    pub fn decode(block: &[u8]) -> Result<Self, CommitDecodeError> {
        let limits = Limits {
            max_depth: 4,
            max_items: 64,
            ..Limits::RECORD
        };
        let value = cbor::decode(block, &limits)?.value;
        let map = value.as_map().ok_or(CommitDecodeError::NotMap)?;
        let mut did = None;
        let mut version = None;
        let mut data = None;
        let mut rev = None;
        let mut prev = None;
        let mut sig = None;
        for (k, v) in &map.0 {
            match (*k, v) {
                ("did", Value::Text(s)) => did = Some(*s),
                ("version", Value::Int(i)) => version = Some(*i),
                ("data", Value::Link(c)) => data = Some(*c),
                ("rev", Value::Text(s)) => rev = Some(*s),
                ("prev", Value::Link(c)) => prev = Some(*c),
                ("prev", Value::Null) => {}
                ("sig", Value::Bytes(b)) => sig = Some(*b),
                ("did" | "version" | "data" | "rev" | "prev" | "sig", _) => {
                    return Err(CommitDecodeError::Field(match *k {
                        "did" => "did",
                        "version" => "version",
                        "data" => "data",
                        "rev" => "rev",
                        "prev" => "prev",
                        _ => "sig",
                    }));
                }
                (other, _) => return Err(CommitDecodeError::UnknownField(other.to_string())),
            }
        }
        let version = version.ok_or(CommitDecodeError::Field("version"))?;
        if version != 3 && version != 2 {
            return Err(CommitDecodeError::Version(version));
        }
        Ok(Commit {
            did: did.ok_or(CommitDecodeError::Field("did"))?.to_string(),
            version: version as i64,
            data: data.ok_or(CommitDecodeError::Field("data"))?,
            rev: rev.ok_or(CommitDecodeError::Field("rev"))?.to_string(),
            prev,
            sig: sig.ok_or(CommitDecodeError::Field("sig"))?.to_vec(),
        })
    }

    fn encode_fields(&self, with_sig: bool) -> Vec<u8> {
        let mut e = Encoder::with_capacity(160);
        // Canonical order: did, rev, sig, data, prev, version.
        e.map(if with_sig { 6 } else { 5 });
        e.text("did").text(&self.did);
        e.text("rev").text(&self.rev);
        if with_sig {
            e.text("sig").bytes(&self.sig);
        }
        e.text("data").link(&self.data);
        e.text("prev").opt_link(self.prev.as_ref());
        e.text("version").int(self.version);
        e.into_bytes()
    }

    /// The canonical DAG-CBOR of the commit without `sig`: the signed message.
    pub fn unsigned_bytes(&self) -> Vec<u8> {
        self.encode_fields(false)
    }

    /// The canonical DAG-CBOR of the signed commit (the block).
    pub fn to_block(&self) -> Vec<u8> {
        self.encode_fields(true)
    }

    /// The block and its CID.
    pub fn to_block_with_cid(&self) -> (Cid, Vec<u8>) {
        let block = self.to_block();
        (cid_for_cbor(&block), block)
    }

    /// Signs (sets `sig`).
    pub fn sign(&mut self, key: &PrivateKey) {
        self.sig = key.sign(&self.unsigned_bytes()).to_vec();
    }

    /// Verifies `sig` with `key` (low-S, 64 bytes).
    pub fn verify(&self, key: &PublicKey) -> Result<(), KeyError> {
        key.verify_prehash(&sha256(&self.unsigned_bytes()), &self.sig)
    }
}
