//! `Store`: opens (creating and migrating) the database and hands out the writer and reader.

use std::path::{Path, PathBuf};

use crate::conn::open_writer;
use crate::error::StoreError;
use crate::migrate::{MIGRATIONS, migrate};
use crate::reader::{Reader, ReaderOptions};
use crate::writer::Writer;

/// Store settings.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// The reader pool.
    pub reader: ReaderOptions,
    /// The writer connection's SQLite page cache, KiB.
    pub writer_cache_kib: u32,
}

impl Default for StoreOptions {
    /// [`StoreOptions::with_cache_mib`] of [`StoreOptions::DEFAULT_CACHE_MIB`].
    fn default() -> Self {
        StoreOptions::with_cache_mib(StoreOptions::DEFAULT_CACHE_MIB)
    }
}

impl StoreOptions {
    /// The default budget of SQLite page caches, MiB (`--db-cache-mib`).
    pub const DEFAULT_CACHE_MIB: u32 = 16;

    /// Default reader pool, with `mib` MiB of SQLite page cache in all: half to the writer
    /// (its B-tree pages; it reads without a memory map), half shared by the readers
    /// (at least 256 KiB each). The caches fill as the index grows and stay resident, so
    /// this is the bound on the store's share of the process's memory, apart from the
    /// memory-mapped file pages, which the kernel may drop at any time.
    pub fn with_cache_mib(mib: u32) -> StoreOptions {
        let total_kib = mib.max(1).saturating_mul(1024);
        let reader = ReaderOptions::default();
        let per_reader =
            (total_kib / 2) / u32::try_from(reader.connections.max(1)).unwrap_or(u32::MAX);
        StoreOptions {
            reader: ReaderOptions {
                cache_kib: per_reader.max(256),
                ..reader
            },
            writer_cache_kib: (total_kib / 2).max(256),
        }
    }
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
        crate::conn::set_cache_kib(&conn, options.writer_cache_kib)?;
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
