//! [`Hot`]: the writer's statements held for a whole batch.
//!
//! `Connection::prepare_cached` hashes the SQL text and moves the statement out of and back
//! into an LRU cache at every use: about 1,600 instructions, several times per change of a
//! bulk load (snapshot, insert, read-back). A batch takes each statement it uses from the
//! cache once and gives it back when the batch ends.

use rusqlite::{CachedStatement, Connection};

/// Statements taken from `conn`'s cache for one batch, found again by the address and length
/// of their `'static` SQL text (a few comparisons, no hashing).
pub(crate) struct Hot<'c> {
    conn: &'c Connection,
    held: Vec<((*const u8, usize), CachedStatement<'c>)>,
}

impl<'c> Hot<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Hot<'c> {
        Hot {
            conn,
            held: Vec::new(),
        }
    }

    /// The connection the statements belong to (for statements not held).
    pub(crate) fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// The statement of `sql`, prepared (or taken from the cache) at its first use in the
    /// batch. Each use must finish with the statement reset (`execute`, `query_row`, or
    /// dropping its `Rows` do).
    pub(crate) fn get(&mut self, sql: &'static str) -> rusqlite::Result<&mut CachedStatement<'c>> {
        let key = (sql.as_ptr(), sql.len());
        let at = match self.held.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.held.push((key, self.conn.prepare_cached(sql)?));
                self.held.len() - 1
            }
        };
        Ok(&mut self.held[at].1)
    }
}
