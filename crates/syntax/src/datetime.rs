//! `Datetime`: the atproto datetime profile, the intersection of RFC 3339 and ISO 8601
//! (`YYYY-MM-DDTHH:MM:SS[.frac]` then `Z` or `±HH:MM`, never `-00:00`), checked for real
//! calendar values.

use crate::error::{SyntaxError, SyntaxKind};
use crate::macros::string_newtype;

/// The longest datetime string accepted.
const MAX_LEN: usize = 64;

/// A datetime string such as `1985-04-12T23:20:50.123Z`, kept exactly as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Datetime(String);

string_newtype!(Datetime);

fn err(reason: &'static str) -> SyntaxError {
    SyntaxError::new(SyntaxKind::Datetime, reason)
}

/// Reads exactly `n` ASCII digits at `pos` as a number.
fn digits(b: &[u8], pos: usize, n: usize) -> Option<u32> {
    let slice = b.get(pos..pos + n)?;
    slice.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn expect(b: &[u8], pos: usize, c: u8) -> Result<(), SyntaxError> {
    if b.get(pos) == Some(&c) {
        Ok(())
    } else {
        Err(err("must look like 1985-04-12T23:20:50.123Z"))
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Datetime {
    /// Parses a datetime in the atproto profile and checks that the date and time exist.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        let b = s.as_bytes();
        if b.len() > MAX_LEN {
            return Err(err("longer than 64 characters"));
        }
        let shape = || err("must look like 1985-04-12T23:20:50.123Z");
        let year = digits(b, 0, 4).ok_or_else(shape)?;
        expect(b, 4, b'-')?;
        let month = digits(b, 5, 2).ok_or_else(shape)?;
        expect(b, 7, b'-')?;
        let day = digits(b, 8, 2).ok_or_else(shape)?;
        expect(b, 10, b'T')?;
        let hour = digits(b, 11, 2).ok_or_else(shape)?;
        expect(b, 13, b':')?;
        let minute = digits(b, 14, 2).ok_or_else(shape)?;
        expect(b, 16, b':')?;
        let second = digits(b, 17, 2).ok_or_else(shape)?;
        let mut pos = 19;
        if b.get(pos) == Some(&b'.') {
            let n = b[pos + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if n == 0 || n > 20 {
                return Err(err("fractional seconds need 1 to 20 digits"));
            }
            pos += 1 + n;
        }
        let offset_minutes: i64 = match b.get(pos) {
            Some(b'Z') if b.len() == pos + 1 => 0,
            Some(sign @ (b'+' | b'-')) if b.len() == pos + 6 => {
                let oh = digits(b, pos + 1, 2).ok_or_else(shape)?;
                expect(b, pos + 3, b':')?;
                let om = digits(b, pos + 4, 2).ok_or_else(shape)?;
                if oh > 23 || om > 59 {
                    return Err(err("timezone offset out of range"));
                }
                if *sign == b'-' && oh == 0 && om == 0 {
                    return Err(err("the offset -00:00 is not allowed; use Z"));
                }
                let m = i64::from(oh * 60 + om);
                if *sign == b'-' { -m } else { m }
            }
            _ => return Err(err("needs a timezone: Z or +HH:MM / -HH:MM")),
        };
        if !(1..=12).contains(&month) {
            return Err(err("month out of range"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(err("day out of range"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(err("time of day out of range"));
        }
        if year == 0 {
            // Year 0000 is allowed, but not when the offset moves it before 0000-01-01T00:00Z.
            let day_of_year: i64 = (1..month)
                .map(|m| i64::from(days_in_month(0, m)))
                .sum::<i64>()
                + i64::from(day - 1);
            let minutes = day_of_year * 1440 + i64::from(hour * 60 + minute) - offset_minutes;
            if minutes < 0 {
                return Err(err("normalises to a time before year 0"));
            }
        }
        Ok(Datetime(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn leap_days_follow_the_gregorian_rules() {
        assert!(Datetime::parse("2024-02-29T00:00:00Z").is_ok());
        assert!(Datetime::parse("2000-02-29T00:00:00Z").is_ok());
        assert!(Datetime::parse("1900-02-29T00:00:00Z").is_err());
        assert!(Datetime::parse("2023-02-29T00:00:00Z").is_err());
        assert!(Datetime::parse("2023-04-31T00:00:00Z").is_err());
    }

    #[test]
    fn trailing_garbage_after_the_zone_is_refused() {
        assert!(Datetime::parse("2024-01-01T00:00:00Zx").is_err());
        assert!(Datetime::parse("2024-01-01T00:00:00+00:00x").is_err());
    }
}
