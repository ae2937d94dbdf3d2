//! The process's allocator: mimalloc instead of glibc's malloc.
//!
//! Under the soak (BENCHMARKS.md, "Soak"), the heap in use stayed between 20 and 55 MB while
//! the RSS of glibc's malloc climbed past 115 MiB and kept climbing: memory freed after a
//! burst of connections stayed with glibc's per-thread arenas, fragmented, so RSS followed
//! the heap's high-water mark. mimalloc returns the pages it frees to the OS, so RSS follows
//! the heap in use. Declared in the library, so the binary, its benches and its tests all
//! run on the allocator that ships.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
