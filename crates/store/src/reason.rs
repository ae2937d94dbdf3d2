//! The cap on stored `reason` strings: a reason can quote untrusted input (a malformed
//! record's field), and every list of links repeats it, so it is cut when written.

/// The most bytes of a `reason` the index stores.
pub const MAX_REASON_BYTES: usize = 256;

/// `reason` cut to at most [`MAX_REASON_BYTES`] bytes, on a character boundary.
pub(crate) fn cap_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reasons_are_kept_and_long_ones_cut_on_a_char_boundary() {
        assert_eq!(cap_reason("bad_signature"), "bad_signature");
        let exact = "a".repeat(MAX_REASON_BYTES);
        assert_eq!(cap_reason(&exact), exact);
        let long = "x".repeat(1 << 20);
        assert_eq!(cap_reason(&long).len(), MAX_REASON_BYTES);
        // 255 ASCII bytes then a 4-byte character straddling the cap: cut before it.
        let straddle = format!("{}🦀tail", "a".repeat(MAX_REASON_BYTES - 1));
        assert_eq!(cap_reason(&straddle), "a".repeat(MAX_REASON_BYTES - 1));
        let wide = "é".repeat(MAX_REASON_BYTES);
        let cut = cap_reason(&wide);
        assert_eq!(cut.len(), MAX_REASON_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
