//! The frames of `subscribeLinks`, framed like `com.atproto.sync.subscribeRepos`: one binary
//! WebSocket message holding a DAG-CBOR header map immediately followed by a DAG-CBOR body.

use bytes::Bytes;
use serde::Serialize;
use store::LinkEvent;

/// The header of a message (`op: 1`, with its type) or of an error (`op: -1`, no type).
#[derive(Serialize)]
struct Header {
    op: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    t: Option<&'static str>,
}

#[derive(Serialize)]
struct Info<'a> {
    name: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

/// Header then body, one buffer. Encoding plain maps of strings and integers cannot fail;
/// should it ever, the frame is empty and logged rather than sent broken.
fn encode(header: &Header, body: &impl Serialize) -> Bytes {
    let mut out = Vec::with_capacity(512);
    let result = serde_ipld_dagcbor::to_writer(&mut out, header)
        .and_then(|()| serde_ipld_dagcbor::to_writer(&mut out, body));
    match result {
        Ok(()) => Bytes::from(out),
        Err(e) => {
            tracing::error!(error = %e, "encoding a subscribeLinks frame failed");
            Bytes::new()
        }
    }
}

/// A `#link` event frame.
pub(crate) fn link(event: &LinkEvent) -> Bytes {
    encode(
        &Header {
            op: 1,
            t: Some("#link"),
        },
        event,
    )
}

/// An `#info` frame.
pub(crate) fn info(name: &str, message: &str) -> Bytes {
    encode(
        &Header {
            op: 1,
            t: Some("#info"),
        },
        &Info { name, message },
    )
}

/// An error frame (the connection is closed after it).
pub(crate) fn error(error: &str, message: &str) -> Bytes {
    encode(&Header { op: -1, t: None }, &ErrorBody { error, message })
}
