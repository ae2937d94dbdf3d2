//! The mode of the files the AppView creates (the database with its `-wal` and `-shm`, and
//! exports): owner-only, or also readable by the service's group when systemd runs it, so
//! that a backup tool in that group can read them.

use std::ffi::OsStr;

/// Owner read-write only: the mode outside systemd.
pub const PRIVATE_MODE: u32 = 0o600;
/// Owner read-write, group read: the mode under systemd.
pub const SERVICE_MODE: u32 = 0o640;
/// Set by systemd (≥ 232) in the environment of every unit it starts.
pub const SYSTEMD_ENV: &str = "INVOCATION_ID";

/// The mode for new files in this process: [`SERVICE_MODE`] when systemd started it
/// (`INVOCATION_ID` is set and not empty), [`PRIVATE_MODE`] otherwise. Applied exactly,
/// whatever the umask.
pub fn file_mode() -> u32 {
    mode_for(std::env::var_os(SYSTEMD_ENV).as_deref())
}

/// The mode given the value of `INVOCATION_ID`, if any.
pub fn mode_for(invocation_id: Option<&OsStr>) -> u32 {
    match invocation_id {
        Some(id) if !id.is_empty() => SERVICE_MODE,
        _ => PRIVATE_MODE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_is_told_by_a_non_empty_invocation_id() {
        assert_eq!(mode_for(None), PRIVATE_MODE);
        assert_eq!(mode_for(Some(OsStr::new(""))), PRIVATE_MODE);
        let id = OsStr::new("5c3e1b0a8f7d4e2c9b6a1d0e3f4a5b6c");
        assert_eq!(mode_for(Some(id)), SERVICE_MODE);
    }
}
