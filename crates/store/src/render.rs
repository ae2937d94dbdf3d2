//! The encoders that render stored binary columns back to their text, written for the
//! batch read path (`resolveActors` renders ~100 link views per request): table-driven,
//! whole groups at a time, straight into the output `Vec` after one `resize`, no
//! intermediate `String`. The reference encoders they must agree with byte for byte live in
//! this module's tests.

/// RFC 4648 base32, lower case (multibase `b`, the CIDs of atproto).
const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
/// Standard base64.
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The did:plc base32 alphabet in ASCII order (see `compact::did_key`).
pub(crate) const PLC_SORTED: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// The table of every value below `N` = base² as its two digits in `digits` (base =
/// `digits.len()`), most significant first: one lookup renders two symbols.
const fn digit_pairs<const N: usize>(digits: &[u8]) -> [[u8; 2]; N] {
    let base = digits.len();
    let mut t = [[0u8; 2]; N];
    let mut i = 0;
    while i < N {
        t[i] = [digits[i / base], digits[i % base]];
        i += 1;
    }
    t
}

/// Every byte's two lower-case hex digits.
static HEX_PAIRS: [[u8; 2]; 256] = digit_pairs(b"0123456789abcdef");

/// Every 10-bit value's two base32 symbols: a 5-byte group is 4 lookups.
static B32_PAIRS: [[u8; 2]; 1024] = digit_pairs(B32);

/// Every 12-bit value's two base64 symbols: a 3-byte group is 2 lookups.
static B64_PAIRS: [[u8; 2]; 4096] = digit_pairs(B64);

/// The two decimal digits of 0..=99.
static DEC_PAIRS: [[u8; 2]; 100] = digit_pairs(b"0123456789");

/// Grows `out` by `n` bytes and returns them.
#[inline]
fn grow(out: &mut Vec<u8>, n: usize) -> &mut [u8] {
    let start = out.len();
    out.resize(start + n, 0);
    &mut out[start..]
}

/// Appends `bytes` as unpadded lower-case RFC 4648 base32 (5 bytes -> 8 symbols at a time).
pub(crate) fn base32(bytes: &[u8], out: &mut Vec<u8>) {
    let dst = grow(out, (bytes.len() * 8).div_ceil(5));
    let mut src = bytes.chunks_exact(5);
    let mut groups = dst.chunks_exact_mut(8);
    for (s, d) in (&mut src).zip(&mut groups) {
        let v = u64::from_be_bytes([0, 0, 0, s[0], s[1], s[2], s[3], s[4]]);
        d[0..2].copy_from_slice(&B32_PAIRS[(v >> 30) as usize & 1023]);
        d[2..4].copy_from_slice(&B32_PAIRS[(v >> 20) as usize & 1023]);
        d[4..6].copy_from_slice(&B32_PAIRS[(v >> 10) as usize & 1023]);
        d[6..8].copy_from_slice(&B32_PAIRS[v as usize & 1023]);
    }
    let rest = src.remainder();
    if !rest.is_empty() {
        let mut s = [0u8; 5];
        s[..rest.len()].copy_from_slice(rest);
        let v = u64::from_be_bytes([0, 0, 0, s[0], s[1], s[2], s[3], s[4]]);
        for (i, c) in groups.into_remainder().iter_mut().enumerate() {
            *c = B32[((v >> (35 - 5 * i)) & 31) as usize];
        }
    }
}

/// Appends `bytes` as standard padded base64 (3 bytes -> 4 symbols at a time).
pub(crate) fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    let dst = grow(out, bytes.len().div_ceil(3) * 4);
    let mut src = bytes.chunks_exact(3);
    let mut groups = dst.chunks_exact_mut(4);
    for (s, d) in (&mut src).zip(&mut groups) {
        let v = u32::from_be_bytes([0, s[0], s[1], s[2]]);
        d[0..2].copy_from_slice(&B64_PAIRS[(v >> 12) as usize & 4095]);
        d[2..4].copy_from_slice(&B64_PAIRS[v as usize & 4095]);
    }
    let rest = src.remainder();
    if let Some(d) = groups.next() {
        let (b1, b2) = (rest.get(1).copied(), rest.get(2).copied());
        let v = u32::from_be_bytes([0, rest[0], b1.unwrap_or(0), b2.unwrap_or(0)]);
        d[0] = B64[(v >> 18) as usize & 63];
        d[1] = B64[(v >> 12) as usize & 63];
        d[2] = if b1.is_some() {
            B64[(v >> 6) as usize & 63]
        } else {
            b'='
        };
        d[3] = b'=';
    }
}

/// Appends `bytes` as lower-case hex.
pub(crate) fn hex(bytes: &[u8], out: &mut Vec<u8>) {
    let dst = grow(out, bytes.len() * 2);
    for (&b, d) in bytes.iter().zip(dst.chunks_exact_mut(2)) {
        d.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// Appends the 24 symbols of a packed did:plc identifier (120 bits, big-endian).
pub(crate) fn plc_id(packed: &[u8; 15], out: &mut Vec<u8>) {
    let mut hi = [0u8; 8];
    let mut lo = [0u8; 8];
    hi[1..].copy_from_slice(&packed[..7]);
    lo.copy_from_slice(&packed[7..]);
    // 120 bits = two halves of 60 bits, 12 symbols each.
    let (hi, lo) = (u64::from_be_bytes(hi), u64::from_be_bytes(lo));
    let first = (hi << 4) | (lo >> 60);
    let second = lo & ((1 << 60) - 1);
    let dst = grow(out, 24);
    let (a, b) = dst.split_at_mut(12);
    for (i, c) in a.iter_mut().enumerate() {
        *c = PLC_SORTED[((first >> (55 - 5 * i)) & 31) as usize];
    }
    for (i, c) in b.iter_mut().enumerate() {
        *c = PLC_SORTED[((second >> (55 - 5 * i)) & 31) as usize];
    }
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC; years clamped to 0..=9999).
pub(crate) fn datetime(ms: i64) -> [u8; 24] {
    // Every stored time is after 1970: unsigned division by constants is a few
    // multiplications; the signed, euclidean path is kept for anything else.
    let (days, sod, millis) = match u64::try_from(ms) {
        Ok(ms) => {
            let secs = ms / 1000;
            (
                secs / 86_400,
                (secs % 86_400) as usize,
                (ms % 1000) as usize,
            )
        }
        Err(_) => {
            let secs = ms.div_euclid(1000);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            return render_datetime(
                y,
                m,
                d,
                secs.rem_euclid(86_400) as usize,
                ms.rem_euclid(1000) as usize,
            );
        }
    };
    let (y, m, d) = civil_from_unsigned_days(days);
    render_datetime(y, m, d, sod, millis)
}

fn render_datetime(y: i64, m: usize, d: usize, sod: usize, millis: usize) -> [u8; 24] {
    let y = y.clamp(0, 9999) as usize;
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let pair = |v: usize| DEC_PAIRS[v];
    b[0..2].copy_from_slice(&pair(y / 100));
    b[2..4].copy_from_slice(&pair(y % 100));
    b[5..7].copy_from_slice(&pair(m));
    b[8..10].copy_from_slice(&pair(d));
    b[11..13].copy_from_slice(&pair(sod / 3600));
    b[14..16].copy_from_slice(&pair((sod / 60) % 60));
    b[17..19].copy_from_slice(&pair(sod % 60));
    b[20] = b'0' + (millis / 100) as u8;
    b[21..23].copy_from_slice(&pair(millis % 100));
    b
}

/// [`civil_from_days`] for days on or after 1970-01-01, in unsigned arithmetic.
fn civil_from_unsigned_days(days: u64) -> (i64, usize, usize) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as usize;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let y = i64::try_from(y).unwrap_or(i64::MAX);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after H. Hinnant;
/// month and day as indexes into [`DEC_PAIRS`]. Days before 1970 are moved by whole
/// 400-year eras (146,097 days, the calendar's period) into [`civil_from_unsigned_days`].
fn civil_from_days(z: i64) -> (i64, usize, usize) {
    if let Ok(days) = u64::try_from(z) {
        return civil_from_unsigned_days(days);
    }
    let eras = i128::from(z.unsigned_abs().div_ceil(146_097));
    let shifted = u64::try_from(i128::from(z) + eras * 146_097).unwrap_or(0);
    let (y, m, d) = civil_from_unsigned_days(shifted);
    let y = i128::from(y) - 400 * eras;
    (i64::try_from(y).unwrap_or(i64::MIN), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoders as they were first written (bit by bit, one `push` per symbol, the
    /// `base64` crate): the output the fast ones must reproduce exactly.
    mod reference {
        use base64::Engine as _;

        pub(super) fn base32(bytes: &[u8], out: &mut Vec<u8>) {
            const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
            let mut acc: u32 = 0;
            let mut bits = 0;
            for &b in bytes {
                acc = (acc << 8) | u32::from(b);
                bits += 8;
                while bits >= 5 {
                    bits -= 5;
                    out.push(B32[((acc >> bits) & 31) as usize]);
                }
                acc &= (1 << bits) - 1;
            }
            if bits > 0 {
                out.push(B32[((acc << (5 - bits)) & 31) as usize]);
            }
        }

        pub(super) fn base64(bytes: &[u8], out: &mut Vec<u8>) {
            out.extend_from_slice(
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .as_bytes(),
            );
        }

        pub(super) fn hex(bytes: &[u8], out: &mut Vec<u8>) {
            out.extend_from_slice(hex::encode(bytes).as_bytes());
        }

        pub(super) fn plc_id(packed: &[u8; 15], out: &mut Vec<u8>) {
            let mut bytes = [0u8; 16];
            bytes[1..].copy_from_slice(packed);
            let acc = u128::from_be_bytes(bytes);
            for i in (0..24).rev() {
                out.push(super::PLC_SORTED[((acc >> (i * 5)) & 31) as usize]);
            }
        }

        /// The signed, euclidean form of the algorithm, as the production code had it: the
        /// reference for the era shift of `super::civil_from_days`.
        pub(super) fn civil_from_days(z: i64) -> (i64, usize, usize) {
            let z = z + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z.rem_euclid(146_097);
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let y = yoe + era * 400;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let d = (doy - (153 * mp + 2) / 5 + 1) as usize;
            let m = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
            (if m <= 2 { y + 1 } else { y }, m, d)
        }

        pub(super) fn datetime(ms: i64) -> [u8; 24] {
            let secs = ms.div_euclid(1000);
            let millis = ms.rem_euclid(1000);
            let days = secs.div_euclid(86_400);
            let sod = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            let (m, d) = (m as i64, d as i64);
            let y = y.clamp(0, 9999);
            let mut b = *b"0000-00-00T00:00:00.000Z";
            let mut put = |at: usize, width: usize, mut v: i64| {
                for i in (at..at + width).rev() {
                    b[i] = b'0' + (v % 10) as u8;
                    v /= 10;
                }
            };
            put(0, 4, y);
            put(5, 2, m);
            put(8, 2, d);
            put(11, 2, sod / 3600);
            put(14, 2, (sod / 60) % 60);
            put(17, 2, sod % 60);
            put(20, 3, millis);
            b
        }
    }

    /// splitmix64, for reproducible random inputs.
    fn mix(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
        (0..len as u64)
            .map(|i| mix(seed * 1000 + i) as u8)
            .collect()
    }

    /// Every line of a vector file that is not a comment.
    fn vector_lines(name: &str) -> Vec<String> {
        let path = format!(
            "{}/../../testdata/atproto-interop-tests/syntax/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    /// An encoder that appends to a `Vec`.
    type Encoder = fn(&[u8], &mut Vec<u8>);

    fn same(fast: Encoder, slow: Encoder, bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
        // A non-empty prefix: the encoders append.
        let (mut a, mut b) = (b"x".to_vec(), b"x".to_vec());
        fast(bytes, &mut a);
        slow(bytes, &mut b);
        (a, b)
    }

    #[test]
    fn the_byte_encoders_match_the_reference_on_every_length_and_random_bytes() {
        let encoders: [(&str, Encoder, Encoder); 3] = [
            ("base32", base32, reference::base32),
            ("base64", base64, reference::base64),
            ("hex", hex, reference::hex),
        ];
        for (name, fast, slow) in encoders {
            for len in 0..=80 {
                for seed in 0..20 {
                    let bytes = random_bytes(seed, len);
                    let (a, b) = same(fast, slow, &bytes);
                    assert_eq!(a, b, "{name} of {bytes:?}");
                }
            }
            for len in 0..=8 {
                for fill in [0u8, 0xff] {
                    let (a, b) = same(fast, slow, &vec![fill; len]);
                    assert_eq!(a, b, "{name} of {len} x {fill:#x}");
                }
            }
        }
    }

    #[test]
    fn base32_matches_the_reference_on_the_interop_cids() {
        let fixtures = std::fs::read_to_string(format!(
            "{}/../../testdata/atproto-interop-tests/data-model/data-model-fixtures.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        // The syntax vectors' base32 CIDs, and every `"baf…"` string of the data-model fixtures.
        let mut cids = vector_lines("cid_syntax_valid.txt");
        cids.extend(
            fixtures
                .split('"')
                .filter(|t| t.starts_with("baf") && t.len() > 50)
                .map(str::to_owned),
        );
        let mut checked = 0;
        for cid in cids {
            let Some(bytes) = cid
                .strip_prefix('b')
                .and_then(|body| crate::compact::b32_decode(body.as_bytes()))
            else {
                continue;
            };
            let (a, b) = same(base32, reference::base32, &bytes);
            assert_eq!(a, b, "{cid}");
            assert_eq!(&a[1..], &cid.as_bytes()[1..], "{cid}");
            checked += 1;
        }
        assert!(checked >= 5, "{checked}");
    }

    #[test]
    fn plc_ids_match_the_reference_on_the_interop_dids_and_random_keys() {
        let mut keys: Vec<[u8; 15]> = (0..2000)
            .map(|s| random_bytes(s, 15).try_into().unwrap())
            .collect();
        keys.push([0; 15]);
        keys.push([0xff; 15]);
        let mut checked = 0;
        for did in vector_lines("did_syntax_valid.txt") {
            let key = crate::compact::did_key(&did);
            if key.len() == 16 && key[0] == 1 {
                keys.push(key[1..].try_into().unwrap());
                checked += 1;
            }
        }
        assert!(checked >= 1, "no did:plc in the vectors");
        for k in keys {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            plc_id(&k, &mut a);
            reference::plc_id(&k, &mut b);
            assert_eq!(a, b, "{k:?}");
        }
    }

    #[test]
    fn datetimes_match_the_reference_on_the_interop_vectors_and_random_instants() {
        let mut instants = vec![0, -1, 1, 999, 1000, -86_400_000, i64::MIN, i64::MAX];
        for line in vector_lines("datetime_syntax_valid.txt") {
            if let Some(ms) = crate::time::parse_datetime(&line) {
                instants.push(ms);
            }
        }
        assert!(instants.len() > 9, "no vector parsed");
        instants.extend(
            (0..20_000).map(|s| (mix(s) % 400_000_000_000_000) as i64 - 62_000_000_000_000),
        );
        instants.extend((0..2000).map(|s| mix(s) as i64));
        for ms in instants {
            assert_eq!(datetime(ms), reference::datetime(ms), "{ms}");
        }
    }

    #[test]
    fn days_before_1970_shift_by_whole_eras_to_the_same_date() {
        // Rendering clamps years to 0..=9999; the date itself must match everywhere.
        let mut days: Vec<i64> = vec![
            -1,
            -146_097,
            -146_098,
            -719_468,
            -719_469,
            i64::MIN / 86_400_000,
        ];
        days.extend((0..50_000).map(|s| -((mix(s) % 4_000_000_000) as i64)));
        for z in days {
            assert_eq!(
                super::civil_from_days(z),
                reference::civil_from_days(z),
                "{z}"
            );
        }
    }
}
