//! The `org.xmtp.identity.*` query methods, one module per lexicon pair, and the table that
//! the router and the lexicon test both read.

use axum::routing::MethodRouter;

use crate::state::AppState;

mod actor;
mod get_status;
mod inbox;
mod list_links;

/// The most actors or inbox IDs one batch call takes.
pub(crate) const MAX_BATCH: usize = 100;

/// The most links one inbox lists in `resolveInbox` and in each inbox of `resolveInboxes`:
/// anyone can publish a record naming any inbox, so the claims on one inbox are unbounded.
/// Verified links are kept first when the cap bites (see `store::Reader::links_by_inbox`).
pub(crate) const MAX_LINKS_PER_INBOX: usize = 100;

/// The NSID of every query method this server serves under `/xrpc/`.
pub const QUERY_METHODS: &[&str] = &[
    "org.xmtp.identity.resolveActor",
    "org.xmtp.identity.resolveActors",
    "org.xmtp.identity.resolveInbox",
    "org.xmtp.identity.resolveInboxes",
    "org.xmtp.identity.listLinks",
    "org.xmtp.identity.getStatus",
];

/// The NSID of every subscription this server serves under `/xrpc/` (WebSocket).
pub const SUBSCRIPTION_METHODS: &[&str] = &["org.xmtp.identity.subscribeLinks"];

/// The handler of a query method or subscription by NSID (every entry of [`QUERY_METHODS`] has one).
pub(crate) fn handler(nsid: &str) -> Option<MethodRouter<AppState>> {
    use axum::routing::get;
    Some(match nsid {
        "org.xmtp.identity.resolveActor" => get(actor::resolve_actor),
        "org.xmtp.identity.resolveActors" => get(actor::resolve_actors),
        "org.xmtp.identity.resolveInbox" => get(inbox::resolve_inbox),
        "org.xmtp.identity.resolveInboxes" => get(inbox::resolve_inboxes),
        "org.xmtp.identity.listLinks" => get(list_links::list_links),
        "org.xmtp.identity.getStatus" => get(get_status::get_status),
        "org.xmtp.identity.subscribeLinks" => get(crate::subscribe::subscribe_links),
        _ => return None,
    })
}
