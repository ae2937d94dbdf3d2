//! MST keys without a heap allocation for the usual sizes: `collection/rkey` of up to
//! [`INLINE`] bytes (`app.bsky.feed.post/<tid>` is 32) is stored in place, longer keys in a
//! boxed slice. A loaded node used to allocate one `Vec` per entry.

/// Longest key stored in place (the whole `Key` is then 48 bytes, as large as a boxed slice
/// and its tag would round up to anyway with the length byte).
const INLINE: usize = 46;

/// An MST key (`collection/rkey` bytes).
#[derive(Clone)]
pub(crate) enum Key {
    /// Up to [`INLINE`] bytes: the length, then the bytes.
    Inline(u8, [u8; INLINE]),
    /// Longer keys.
    Heap(Box<[u8]>),
}

impl Key {
    /// The key `prefix ‖ suffix`.
    #[inline]
    pub fn concat(prefix: &[u8], suffix: &[u8]) -> Key {
        let n = prefix.len() + suffix.len();
        if n <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..prefix.len()].copy_from_slice(prefix);
            buf[prefix.len()..n].copy_from_slice(suffix);
            Key::Inline(n as u8, buf)
        } else {
            let mut v = Vec::with_capacity(n);
            v.extend_from_slice(prefix);
            v.extend_from_slice(suffix);
            Key::Heap(v.into_boxed_slice())
        }
    }

    /// The key bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Key::Inline(n, buf) => buf.get(..usize::from(*n)).unwrap_or(buf),
            Key::Heap(b) => b,
        }
    }
}

impl From<&[u8]> for Key {
    fn from(k: &[u8]) -> Key {
        Key::concat(k, &[])
    }
}

impl std::ops::Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Key {
    #[inline]
    fn eq(&self, other: &Key) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Key {}

impl PartialEq<[u8]> for Key {
    #[inline]
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for Key {
    #[inline]
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_every_length_round_trip_inline_or_boxed() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1100).collect();
        for n in [0, 1, 31, 45, 46, 47, 100, 1024, 1100] {
            for split in [0, n / 3, n] {
                let k = Key::concat(&bytes[..split], &bytes[split..n]);
                assert_eq!(k.as_slice(), &bytes[..n]);
                assert_eq!(matches!(k, Key::Inline(..)), n <= INLINE, "{n}");
                assert_eq!(k, Key::from(&bytes[..n]));
                let s: &[u8] = &bytes[..n];
                assert!(k == s && k == bytes[..n]);
            }
        }
        assert_eq!(std::mem::size_of::<Key>(), 48);
    }
}
