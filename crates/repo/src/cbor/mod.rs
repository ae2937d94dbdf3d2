//! DAG-CBOR: one bounded, zero-copy reader ([`Reader`], a cursor read item by item, as the
//! firehose's filter does), the value decoder built on it ([`decode`]), a canonical writer
//! ([`Encoder`], [`encode`]), plus JSON conversion in the atproto JSON form.
//!
//! # Leniency policy (why we do not just use `serde_ipld_dagcbor` for records)
//! PDSes and relays pass records through verbatim, and the record's membership in the repo
//! is proven by its hash, not by how canonical its encoding is. `serde_ipld_dagcbor` 0.7 is
//! stricter than the rest of the ecosystem, so a slightly non-canonical record would be lost.
//! [`Mode::Lenient`] (used for records, commits and MST nodes) therefore accepts:
//! - map keys in any order, and non-minimal integer / length encodings;
//! - floats of any width (JS encoders emit them for non-integer numbers; they never carry
//!   fields we read).
//!
//! It still rejects, in every mode, what would make the *meaning* ambiguous or unbounded:
//! duplicate map keys (two parsers could read different values), non-string map keys,
//! invalid UTF-8, indefinite lengths (no atproto encoder emits them and they defeat
//! zero-copy), tags other than 42, malformed tag-42 links, simple values other than
//! `false`/`true`/`null`, trailing bytes, nesting deeper than [`Limits::max_depth`] and more
//! than [`Limits::max_items`] items. [`Mode::Strict`] (DRISL) additionally rejects floats,
//! non-canonical key order and non-minimal encodings; [`decode`] reports whether the input was
//! canonical either way.

mod cursor;
mod json;
mod read;
mod write;

pub use cursor::{MAX_DEPTH, Reader};
pub use json::{JsonError, json_to_cbor, to_json};
pub use read::{CborError, Decoded, Limits, Map, Mode, Value, decode, decode_prefix};
pub use write::{Encoder, canonical_key_cmp, encode, to_dagcbor};
