//! A minimal HTTP/1.1 keep-alive client over one TCP connection, shared by the integration
//! tests and the `query_load` bench (which must not measure a heavyweight client).

#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    request: Vec<u8>,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

impl Conn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            request: Vec::with_capacity(4096),
        })
    }

    /// `GET target`.
    pub async fn get(&mut self, target: &str) -> io::Result<Response> {
        self.send("GET", target, &[]).await
    }

    /// Sends one request and reads its response (Content-Length bodies only).
    pub async fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<Response> {
        self.request.clear();
        self.request.extend_from_slice(method.as_bytes());
        self.request.push(b' ');
        self.request.extend_from_slice(target.as_bytes());
        self.request
            .extend_from_slice(b" HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\n");
        for (k, v) in headers {
            self.request.extend_from_slice(k.as_bytes());
            self.request.extend_from_slice(b": ");
            self.request.extend_from_slice(v.as_bytes());
            self.request.extend_from_slice(b"\r\n");
        }
        self.request.extend_from_slice(b"\r\n");
        self.stream.write_all(&self.request).await?;
        self.read_response(method == "HEAD").await
    }

    async fn fill(&mut self) -> io::Result<()> {
        self.buf.reserve(64 * 1024);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(())
    }

    /// `GET target`, keeping only the status (no copy of the body: for load generation).
    pub async fn get_status(&mut self, target: &str) -> io::Result<u16> {
        self.request.clear();
        self.request.extend_from_slice(b"GET ");
        self.request.extend_from_slice(target.as_bytes());
        self.request
            .extend_from_slice(b" HTTP/1.1\r\nhost: localhost\r\n\r\n");
        self.stream.write_all(&self.request).await?;
        let (status, _, start, len) = self.read_head(false).await?;
        while self.buf.len() < start + len {
            self.fill().await?;
        }
        self.buf.drain(..start + len);
        Ok(status)
    }

    async fn read_response(&mut self, head_only: bool) -> io::Result<Response> {
        let (status, headers, start, len) = self.read_head(head_only).await?;
        while self.buf.len() < start + len {
            self.fill().await?;
        }
        let body = self.buf[start..start + len].to_vec();
        self.buf.drain(..start + len);
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Reads up to the end of the head: (status, headers, body start, body length).
    async fn read_head(
        &mut self,
        head_only: bool,
    ) -> io::Result<(u16, Vec<(String, String)>, usize, usize)> {
        let header_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..header_end]).map_err(|_| bad("head"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().ok_or_else(|| bad("status line"))?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status code"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = if head_only {
            0
        } else {
            headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .ok_or_else(|| bad("no content-length"))?
        };
        Ok((status, headers, header_end + 4, len))
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
