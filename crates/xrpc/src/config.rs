//! `ServerConfig`: the limits of the HTTP server, with the public contract's defaults.

use std::time::Duration;

/// The limits the server enforces on every listener it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// Requests per second per client IP (`--rate-limit`); the burst is twice this. 0 turns
    /// the limiter off. IPv6 clients are counted per /64; loopback is not exempt.
    pub rate_limit: u32,
    /// The most client IPs the limiter tracks at once (its memory bound). When every entry
    /// is in use, requests from IPs not yet tracked are answered 429 until entries expire.
    pub rate_limit_clients: usize,
    /// The most requests in flight at once; more are answered 503 `Overloaded`.
    pub max_in_flight: usize,
    /// The most open connections; a connection beyond it is answered 503 and closed.
    pub max_connections: usize,
    /// The most open connections of one client (an IPv4 address or an IPv6 /64); a
    /// connection beyond it is answered 429 and closed. 0 turns the cap off (behind a
    /// proxy every client shares its address: cap per client there instead).
    pub max_connections_per_client: u32,
    /// A request head (request line and headers) not complete this long after the server
    /// starts waiting for it closes the connection; this also closes idle keep-alive
    /// connections.
    pub header_read_timeout: Duration,
    /// A connection whose writes make no progress this long (a client that stopped reading)
    /// is closed.
    pub write_timeout: Duration,
    /// A request not answered this long is answered 503 `RequestTimeout`, and its query is
    /// interrupted.
    pub request_timeout: Duration,
}

impl ServerConfig {
    /// The defaults of the public contract.
    pub const DEFAULT: ServerConfig = ServerConfig {
        rate_limit: 100,
        rate_limit_clients: 100_000,
        max_in_flight: 1_024,
        max_connections: 4_096,
        max_connections_per_client: 256,
        header_read_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(15),
    };

    /// The defaults with the rate limiter off (in-process benches and tests).
    pub fn unlimited() -> ServerConfig {
        ServerConfig {
            rate_limit: 0,
            ..ServerConfig::DEFAULT
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::DEFAULT
    }
}
