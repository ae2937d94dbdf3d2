//! The SQLite index: migrations, the single Writer, read-only Reader pool. Only SQL lives here.
