//! `GetInboxIds`, as both backends ask it: one Ethereum lookup per address, answers as
//! (identifier, inbox ID). The v3 identity API and the d14n message API each have their own
//! messages (same fields, another package); [`Lookup`] and [`Answer`] let one request
//! builder and one response mapping serve both.

use crate::proto::associations::IdentifierKind;

/// One identifier of a `GetInboxIdsRequest`.
pub(crate) trait Lookup {
    /// The lookup of `identifier`, of kind `kind` (an `IdentifierKind`).
    fn new(identifier: String, kind: i32) -> Self;
}

/// One answer of a `GetInboxIdsResponse`.
pub(crate) trait Answer {
    /// (identifier asked about, its inbox ID if any).
    fn into_pair(self) -> (String, Option<String>);
}

/// The lookups of `addresses`, as Ethereum addresses.
pub(crate) fn ethereum_lookups<L: Lookup>(addresses: &[String]) -> Vec<L> {
    addresses
        .iter()
        .map(|a| L::new(a.clone(), IdentifierKind::Ethereum as i32))
        .collect()
}

/// The answers as (identifier, inbox ID) pairs, in the order given.
pub(crate) fn pairs<A: Answer>(answers: Vec<A>) -> Vec<(String, Option<String>)> {
    answers.into_iter().map(Answer::into_pair).collect()
}

/// Implements [`Lookup`] and [`Answer`] for the `GetInboxIds` messages of a proto module.
macro_rules! inbox_id_messages {
    ($($module:ident)::+) => {
        impl Lookup for $($module)::+::get_inbox_ids_request::Request {
            fn new(identifier: String, identifier_kind: i32) -> Self {
                Self { identifier, identifier_kind }
            }
        }

        impl Answer for $($module)::+::get_inbox_ids_response::Response {
            fn into_pair(self) -> (String, Option<String>) {
                (self.identifier, self.inbox_id)
            }
        }
    };
}

inbox_id_messages!(crate::proto::api);
inbox_id_messages!(crate::d14n::proto);
