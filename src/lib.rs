//! Host package for the workspace's end-to-end tests (`tests/`); it has no code of its own.
