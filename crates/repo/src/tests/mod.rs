//! Vector-driven and property tests of the repo crate's core (keys, CBOR, CAR, commits).

mod car;
mod cbor;
mod commit;
mod empty_tree;
mod keys;
mod mst;
mod verify;
mod writer;
