//! `Store`: opens (creating and migrating) the database and hands out the writer and reader.

use std::path::{Path, PathBuf};

use crate::conn::open_writer;
use crate::error::StoreError;
use crate::migrate::{MIGRATIONS, migrate};
use crate::reader::{Reader, ReaderOptions};
use crate::writer::Writer;

/// Store settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    /// The reader pool.
    pub reader: ReaderOptions,
}

/// The open index: one writer thread and a reader pool over the same file.
#[derive(Clone, Debug)]
pub struct Store {
    path: PathBuf,
    writer: Writer,
    reader: Reader,
}

impl Store {
    /// Opens the database at `path`, creating it and applying pending migrations.
    /// Refuses a database whose schema is newer than this binary.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, StoreOptions::default())
    }

    /// [`Store::open`] with explicit settings.
    pub fn open_with(path: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                what: format!("create {}", parent.display()),
                source,
            })?;
        }
        let mut conn = open_writer(path)?;
        migrate(&mut conn, MIGRATIONS)?;
        let writer = Writer::spawn(conn, path).map_err(|source| StoreError::Io {
            what: "spawn the writer thread".into(),
            source,
        })?;
        Ok(Store {
            path: path.to_owned(),
            writer,
            reader: Reader::new(path, options.reader),
        })
    }

    /// A handle to the single writer.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// A handle to the reader pool.
    pub fn reader(&self) -> Reader {
        self.reader.clone()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
