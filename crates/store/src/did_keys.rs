//! [`DidKeys`]: the stored keys of a batch of DIDs in one buffer, as
//! [`crate::Reader::links_json_by_did_keys`] looks them up. A caller that holds the DIDs as
//! borrowed text (an XRPC query string) builds it without a `String` per DID.

use crate::compact::push_did_key;

/// The stored keys ([`crate::did_key`]) of DIDs in the order pushed, repeats included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DidKeys {
    bytes: Vec<u8>,
    /// `ends[i]` closes key `i` in `bytes`.
    ends: Vec<usize>,
}

impl DidKeys {
    /// Room for `n` DIDs.
    pub fn with_capacity(n: usize) -> DidKeys {
        DidKeys {
            bytes: Vec::with_capacity(n * 16),
            ends: Vec::with_capacity(n),
        }
    }

    /// Appends the key of `did`.
    pub fn push(&mut self, did: &str) {
        push_did_key(did, &mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    /// How many keys were pushed.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no key was pushed.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The keys in the order pushed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.bytes[start..end])
    }
}

impl<S: AsRef<str>> FromIterator<S> for DidKeys {
    fn from_iter<I: IntoIterator<Item = S>>(dids: I) -> DidKeys {
        let dids = dids.into_iter();
        let mut keys = DidKeys::with_capacity(dids.size_hint().0);
        for did in dids {
            keys.push(did.as_ref());
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::did_key;

    #[test]
    fn every_key_comes_back_in_order_as_did_key_makes_it() {
        let dids = [
            "did:plc:7iza6de2dwap2sbkpav7c6c6",
            "did:web:example.com",
            "did:plc:7iza6de2dwap2sbkpav7c6c6",
            "did:plc:short",
            "",
        ];
        let keys: DidKeys = dids.iter().collect();
        assert_eq!(keys.len(), dids.len());
        let got: Vec<&[u8]> = keys.iter().collect();
        let want: Vec<Vec<u8>> = dids.iter().map(|d| did_key(d)).collect();
        assert_eq!(got, want.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert!(DidKeys::default().is_empty());
        assert_eq!(DidKeys::default().iter().count(), 0);
    }
}
