//! The WebSocket connect: TCP (+ TLS through rustls for `wss://`, trusting the webpki roots
//! or exactly the roots of a [`TlsRoots::only`], never without verification), then the
//! HTTP/1.1 upgrade, checked by hand (`101`, `Upgrade`, `Sec-WebSocket-Accept`),
//! handing the stream to `fastwebsockets` (which leaves the handshake to its caller).
//! A `429` keeps its `Retry-After`, a `501` says the relay has no event streams.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use fastwebsockets::{Role, WebSocket};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// The read buffer in front of fastwebsockets (which reads one frame's worth at a time):
/// one syscall brings many frames, handled back to back without a wake-up each.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Longest response head accepted from the relay.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A plain or TLS TCP stream.
#[derive(Debug)]
pub enum MaybeTls {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The connected stream, behind a [`READ_BUFFER_BYTES`] read buffer (which also keeps
/// the bytes the relay sent right after its `101`).
pub type Stream = BufReader<MaybeTls>;

/// Why connecting failed.
#[derive(Debug)]
pub enum ConnectError {
    /// HTTP 429, with the `Retry-After` it gave (seconds, capped at an hour).
    RateLimited(Option<Duration>),
    /// HTTP 501: the relay has no event streams.
    NotImplemented,
    /// The TLS handshake failed: rustls' reason (e.g. the relay's certificate has an
    /// untrusted root or is for another name).
    Tls(rustls::Error),
    /// Anything else (DNS, TCP, TLS, another status, a bad upgrade).
    Other(String),
}

fn other(e: impl std::fmt::Display) -> ConnectError {
    ConnectError::Other(e.to_string())
}

/// The roots a `wss://` connect trusts. Certificates are always verified (chain, name,
/// validity); only the set of trusted roots changes.
#[derive(Debug, Clone, Default)]
pub enum TlsRoots {
    /// The webpki (Mozilla) roots: production.
    #[default]
    WebPki,
    /// Exactly the roots given to [`TlsRoots::only`] and no others (a test relay's own CA).
    Only(Arc<ClientConfig>),
}

/// A root certificate [`TlsRoots::only`] could not use.
#[derive(Debug, thiserror::Error)]
#[error("unusable TLS root certificate: {0}")]
pub struct BadRoot(#[source] rustls::Error);

impl TlsRoots {
    /// Trusts exactly `roots` (DER certificates), e.g. a test CA.
    pub fn only(roots: impl IntoIterator<Item = CertificateDer<'static>>) -> Result<Self, BadRoot> {
        let mut store = RootCertStore::empty();
        for r in roots {
            store.add(r).map_err(BadRoot)?;
        }
        Ok(Self::Only(Arc::new(
            ClientConfig::builder()
                .with_root_certificates(store)
                .with_no_client_auth(),
        )))
    }

    fn client_config(&self) -> Arc<ClientConfig> {
        static WEBPKI: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        match self {
            Self::Only(c) => c.clone(),
            Self::WebPki => WEBPKI
                .get_or_init(|| {
                    let roots = RootCertStore {
                        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                    };
                    Arc::new(
                        ClientConfig::builder()
                            .with_root_certificates(roots)
                            .with_no_client_auth(),
                    )
                })
                .clone(),
        }
    }
}

/// A failed TLS handshake: rustls' own reason when it gave one.
fn tls_error(e: std::io::Error) -> ConnectError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(r) => ConnectError::Tls(r.clone()),
        None => other(format!("TLS: {e}")),
    }
}

/// The parts of a `ws://` / `wss://` URL the connect needs.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// Path and query.
    resource: String,
}

fn target(url: &str) -> Result<Target, ConnectError> {
    let uri: http::Uri = url.parse().map_err(other)?;
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        s => return Err(other(format!("not a ws:// or wss:// URL (scheme {s:?})"))),
    };
    let host = uri.host().ok_or_else(|| other("URL without host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok(Target {
        tls,
        port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        resource: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into()),
        host,
    })
}

fn parse_retry_after(v: Option<&[u8]>) -> Option<Duration> {
    let secs: u64 = std::str::from_utf8(v?).ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(3600)))
}

/// The `Sec-WebSocket-Accept` a server must answer to `key` (RFC 6455 §4.2.2).
fn accept_for(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Reads the response head (through the empty line); the stream keeps what follows.
async fn read_head(s: &mut Stream) -> Result<Vec<u8>, ConnectError> {
    let mut head = Vec::with_capacity(512);
    loop {
        let n = s.read_until(b'\n', &mut head).await.map_err(other)?;
        if n == 0 {
            return Err(other("connection closed during the upgrade"));
        }
        if head.ends_with(b"\r\n\r\n") || head == b"\r\n" {
            return Ok(head);
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(other("upgrade response head too long"));
        }
    }
}

/// Checks the response head: `101` with the right upgrade headers, or why not.
fn check_head(head: &[u8], key: &str) -> Result<(), ConnectError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(other("incomplete upgrade response")),
        Err(e) => return Err(other(format!("bad upgrade response: {e}"))),
    }
    let get = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    match resp.code {
        Some(101) => {}
        Some(429) => {
            return Err(ConnectError::RateLimited(parse_retry_after(get(
                "retry-after",
            ))));
        }
        Some(501) => return Err(ConnectError::NotImplemented),
        Some(s) => return Err(other(format!("HTTP {s}"))),
        None => return Err(other("upgrade response without status")),
    }
    if !get("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket")) {
        return Err(other("101 without Upgrade: websocket"));
    }
    if get("sec-websocket-accept") != Some(accept_for(key).as_bytes()) {
        return Err(other("wrong Sec-WebSocket-Accept"));
    }
    Ok(())
}

/// Limits frames to `max` bytes (fastwebsockets refuses `len >= limit`; ours is inclusive).
pub fn set_max_message<S>(ws: &mut WebSocket<S>, max: usize) {
    ws.set_max_message_size(max.saturating_add(1));
}

/// Connects to `url` (`ws://` or `wss://`, trusting `roots`) and upgrades to a client
/// WebSocket whose messages are limited to `max_message_bytes`.
pub async fn connect(
    url: &str,
    max_message_bytes: usize,
    roots: &TlsRoots,
) -> Result<WebSocket<Stream>, ConnectError> {
    let t = target(url)?;
    let tcp = TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(other)?;
    tcp.set_nodelay(true).map_err(other)?;
    let io = if t.tls {
        let name = ServerName::try_from(t.host.clone()).map_err(other)?;
        let tls = TlsConnector::from(roots.client_config())
            .connect(name, tcp)
            .await
            .map_err(tls_error)?;
        MaybeTls::Tls(Box::new(tls))
    } else {
        MaybeTls::Plain(tcp)
    };
    let mut s = BufReader::with_capacity(READ_BUFFER_BYTES, io);
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
         User-Agent: xmtp-appview\r\n\r\n",
        t.resource, t.port
    );
    s.get_mut().write_all(req.as_bytes()).await.map_err(other)?;
    s.get_mut().flush().await.map_err(other)?;
    let head = read_head(&mut s).await?;
    check_head(&head, &key)?;
    let mut ws = WebSocket::after_handshake(s, Role::Client);
    set_max_message(&mut ws, max_message_bytes);
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_host_port_and_resource() {
        assert_eq!(
            target("wss://relay.example/xrpc/x?cursor=5").unwrap(),
            Target {
                tls: true,
                host: "relay.example".into(),
                port: 443,
                resource: "/xrpc/x?cursor=5".into()
            }
        );
        let t = target("ws://127.0.0.1:9/").unwrap();
        assert_eq!((t.tls, t.port, t.resource.as_str()), (false, 9, "/"));
        assert!(matches!(target("http://x/"), Err(ConnectError::Other(_))));
    }

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn status_codes_of_a_refused_upgrade_are_told_apart() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let r = check_head(b"HTTP/1.1 429 Too Many\r\nRetry-After: 99999\r\n\r\n", key);
        assert!(matches!(
            r,
            Err(ConnectError::RateLimited(Some(d))) if d == Duration::from_secs(3600)
        ));
        let r = check_head(b"HTTP/1.1 501 No\r\n\r\n", key);
        assert!(matches!(r, Err(ConnectError::NotImplemented)));
        let r = check_head(b"HTTP/1.1 404 No\r\n\r\n", key);
        assert!(matches!(r, Err(ConnectError::Other(e)) if e == "HTTP 404"));
        let ok = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(check_head(ok, key).is_ok());
        let bad = b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\n\
                    Sec-WebSocket-Accept: AAAA\r\n\r\n";
        assert!(
            matches!(check_head(bad, key), Err(ConnectError::Other(e)) if e.contains("Accept"))
        );
    }

    #[test]
    fn retry_after_seconds_are_parsed_and_capped() {
        assert_eq!(parse_retry_after(Some(b"7")), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(Some(b"99999")),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
