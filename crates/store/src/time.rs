//! Unix time helpers: the workspace's one wall clock ([`now_micros`], [`now_millis`],
//! [`now_secs`]; 0 if the clock is before 1970). The store keeps times as unix milliseconds
//! and renders them as atproto datetimes (`YYYY-MM-DDTHH:MM:SS.mmmZ`).

use std::time::{SystemTime, UNIX_EPOCH};

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Now, in unix microseconds.
pub fn now_micros() -> u64 {
    u64::try_from(since_epoch().as_micros()).unwrap_or(u64::MAX)
}

/// Now, in unix milliseconds.
pub fn now_millis() -> i64 {
    i64::try_from(since_epoch().as_millis()).unwrap_or(i64::MAX)
}

/// Now, in unix seconds.
pub fn now_secs() -> i64 {
    i64::try_from(since_epoch().as_secs()).unwrap_or(i64::MAX)
}

/// Renders unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). Written by hand, without
/// the formatting machinery, because every link view carries one or two of these.
pub fn format_unix_millis(ms: i64) -> String {
    datetime_bytes(ms).iter().map(|c| char::from(*c)).collect()
}

/// The 24 ASCII bytes of [`format_unix_millis`], on the stack.
pub(crate) fn datetime_bytes(ms: i64) -> [u8; 24] {
    crate::render::datetime(ms)
}

/// Unix milliseconds of a datetime in exactly the form [`format_unix_millis`] renders
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`); `None` for anything else. Out-of-range fields are not
/// rejected here: callers compare the rendering with the input.
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24 {
        return None;
    }
    let shape = b"0000-00-00T00:00:00.000Z";
    let num = |at: usize, width: usize| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[at..at + width] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    for (i, &c) in shape.iter().enumerate() {
        if c != b'0' && b[i] != c {
            return None;
        }
    }
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hh, mm, ss, ms) = (num(11, 2)?, num(14, 2)?, num(17, 2)?, num(20, 3)?);
    let days = days_from_civil(y, m, d);
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000) + ms)
}

/// A proleptic Gregorian (year, month, day) to days since 1970-01-01, after H. Hinnant.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_render_as_atproto_datetimes() {
        assert_eq!(format_unix_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_unix_millis(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            format_unix_millis(1_795_000_000_000),
            "2026-11-18T11:06:40.000Z"
        );
        assert!(syntax::Datetime::parse(&format_unix_millis(now_millis())).is_ok());
    }
}
