//! Validated configuration: the raw clap arguments checked and converted into typed values.
//! Anything wrong here is the user's input, reported with the option's name.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{NetworkArgs, ServerArgs, XmtpBackend, XmtpEnv};

/// Parses a duration such as `90s`, `15m` or `24h`.
pub fn parse_duration(option: &str, text: &str) -> anyhow::Result<Duration> {
    let duration = humantime::parse_duration(text.trim())
        .with_context(|| format!("--{option}: `{text}` is not a duration like 90s, 15m or 24h"))?;
    if duration.is_zero() {
        bail!("--{option}: the duration must be greater than zero");
    }
    Ok(duration)
}

/// Parses the XRPC listen address.
pub fn parse_listen(text: &str) -> anyhow::Result<SocketAddr> {
    parse_addr("listen", text)
}

/// Parses a socket address given to `--option`.
pub fn parse_addr(option: &str, text: &str) -> anyhow::Result<SocketAddr> {
    text.parse()
        .with_context(|| format!("--{option}: `{text}` is not an address like 127.0.0.1:2585"))
}

/// The HTTP options of `run` and `serve`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// The limits of the public XRPC listener.
    pub server: xrpc::ServerConfig,
    /// Where `/metrics` is served; `None`: nowhere.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for HttpOptions {
    /// The contract's defaults: the rate limit on, no metrics listener.
    fn default() -> Self {
        HttpOptions {
            server: xrpc::ServerConfig::default(),
            metrics_listen: None,
        }
    }
}

/// Checks `--rate-limit` and `--metrics-listen`.
pub fn http_options(args: &ServerArgs) -> anyhow::Result<HttpOptions> {
    let metrics_listen = args
        .metrics_listen
        .as_deref()
        .map(|a| parse_addr("metrics-listen", a))
        .transpose()?;
    if let Some(addr) = metrics_listen
        && parse_listen(&args.listen).ok() == Some(addr)
    {
        bail!("--metrics-listen: {addr} is the public --listen address; /metrics must be apart");
    }
    Ok(HttpOptions {
        server: xrpc::ServerConfig {
            rate_limit: args.rate_limit,
            max_connections: args.max_connections as usize,
            max_connections_per_client: args.max_connections_per_ip,
            ..xrpc::ServerConfig::default()
        },
        metrics_listen,
    })
}

/// Checks that `url` uses one of `schemes` and has a host.
pub fn check_url(option: &str, url: &str, schemes: &[&str]) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        bail!(
            "--{option}: `{url}` is not a URL (expected {})",
            schemes.join(" or ")
        );
    };
    if !schemes.contains(&scheme) {
        bail!(
            "--{option}: scheme `{scheme}` not allowed here (expected {})",
            schemes.join(" or ")
        );
    }
    if rest.is_empty() || rest.starts_with('/') {
        bail!("--{option}: `{url}` has no host");
    }
    Ok(trimmed.to_string())
}

/// Checks `--service-did`: it must be a did:web (the DID document is served by us).
pub fn service_did(did: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(did) = did else { return Ok(None) };
    let parsed = syntax::Did::parse(did).map_err(|e| anyhow::anyhow!("--service-did: {e}"))?;
    if !parsed.as_str().starts_with("did:web:") {
        bail!(
            "--service-did: `{did}` must be a did:web (its document is served at /.well-known/did.json)"
        );
    }
    Ok(Some(parsed.as_str().to_string()))
}

/// The XMTP identity API endpoint: `--xmtp-api` when given, else the `--xmtp-env` default.
pub fn xmtp_endpoint(net: &NetworkArgs) -> anyhow::Result<String> {
    Ok(match &net.xmtp_api {
        Some(url) => check_url("xmtp-api", url, &["http", "https"])?,
        None => match net.xmtp_env {
            XmtpEnv::Dev => xmtp::XmtpEnv::Dev.endpoint().to_string(),
            XmtpEnv::Production => xmtp::XmtpEnv::Production.endpoint().to_string(),
        },
    })
}

/// Checks `--xmtp-backend` and `--xmtp-gateway`: `d14n` needs a gateway (xmtpd has no
/// default host); `auto` without one reads v3 and warns loudly once the cutover passes.
pub fn xmtp_backend(net: &NetworkArgs) -> anyhow::Result<(XmtpBackend, Option<String>)> {
    let gateway = net
        .xmtp_gateway
        .as_deref()
        .map(|u| check_url("xmtp-gateway", u, &["http", "https"]))
        .transpose()?;
    if net.xmtp_backend == XmtpBackend::D14n && gateway.is_none() {
        bail!("--xmtp-backend d14n needs --xmtp-gateway (the d14n network has no default host)");
    }
    Ok((net.xmtp_backend, gateway))
}

/// Checks `--plc` and `--handle-resolver`.
pub fn identity_urls(net: &NetworkArgs) -> anyhow::Result<(String, Option<String>)> {
    let plc = check_url("plc", &net.plc, &["http", "https"])?;
    let handle_resolver = net
        .handle_resolver
        .as_deref()
        .map(|u| check_url("handle-resolver", u, &["http", "https"]))
        .transpose()?;
    Ok((plc, handle_resolver))
}

/// The identity resolver over already checked URLs.
pub fn resolver(
    plc: &str,
    handle_resolver: Option<&str>,
    allow_private_network: bool,
    cache_entries: usize,
) -> anyhow::Result<identity::Resolver> {
    identity::Resolver::new(identity::ResolverConfig {
        plc_url: plc.to_string(),
        resolve_handle_service: handle_resolver.map(str::to_string),
        allow_private_network,
        max_entries: cache_entries,
        ..identity::ResolverConfig::default()
    })
    .context("build the identity resolver")
}

/// The identity resolver for the network options.
pub fn network_resolver(net: &NetworkArgs) -> anyhow::Result<identity::Resolver> {
    let (plc, handle_resolver) = identity_urls(net)?;
    let entries = net.identity_cache_entries as usize;
    resolver(
        &plc,
        handle_resolver.as_deref(),
        net.allow_private_network,
        entries,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_contract_says() {
        assert_eq!(
            parse_duration("x", "90s").ok(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("x", "15m").ok(),
            Some(Duration::from_secs(900))
        );
        assert_eq!(
            parse_duration("x", "24h").ok(),
            Some(Duration::from_secs(86_400))
        );
        assert!(parse_duration("x", "soon").is_err());
        assert!(parse_duration("x", "0s").is_err());
    }

    #[test]
    fn urls_are_checked_for_scheme_and_host() {
        assert_eq!(
            check_url("relay", "ws://127.0.0.1:1234/", &["ws", "wss"])
                .ok()
                .as_deref(),
            Some("ws://127.0.0.1:1234")
        );
        assert!(check_url("relay", "http://x", &["ws", "wss"]).is_err());
        assert!(check_url("relay", "wss://", &["ws", "wss"]).is_err());
        assert!(check_url("relay", "relay.example", &["ws", "wss"]).is_err());
    }

    fn server_args(extra: &[&str]) -> ServerArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            server: ServerArgs,
        }
        let args = std::iter::once("t").chain(extra.iter().copied());
        T::try_parse_from(args).unwrap().server
    }

    /// The error clap gives for `extra`.
    fn server_args_error(extra: &[&str]) -> String {
        use clap::Parser;
        #[derive(Parser, Debug)]
        struct T {
            #[command(flatten)]
            server: ServerArgs,
        }
        let args = std::iter::once("t").chain(extra.iter().copied());
        match T::try_parse_from(args) {
            Ok(t) => panic!("{extra:?} accepted: {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn rate_limit_and_metrics_listen_default_to_the_contract() {
        let opts = http_options(&server_args(&[])).unwrap();
        assert_eq!(opts.server.rate_limit, 100);
        assert_eq!(opts.metrics_listen, None);
        assert_eq!(opts, HttpOptions::default());
        let opts = http_options(&server_args(&[
            "--rate-limit",
            "0",
            "--metrics-listen",
            "127.0.0.1:9090",
        ]))
        .unwrap();
        assert_eq!(opts.server.rate_limit, 0);
        assert_eq!(opts.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
        let err = http_options(&server_args(&["--metrics-listen", "nowhere"])).unwrap_err();
        assert!(err.to_string().contains("--metrics-listen"), "{err}");
        let err = http_options(&server_args(&[
            "--listen",
            "127.0.0.1:7000",
            "--metrics-listen",
            "127.0.0.1:7000",
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("public"), "{err}");
    }

    #[test]
    fn connection_caps_default_to_the_server_defaults_and_can_be_set() {
        let opts = http_options(&server_args(&[])).unwrap();
        assert_eq!(opts.server.max_connections, 4_096);
        assert_eq!(opts.server.max_connections_per_client, 256);
        let opts = http_options(&server_args(&[
            "--max-connections",
            "100",
            "--max-connections-per-ip",
            "0",
        ]))
        .unwrap();
        assert_eq!(opts.server.max_connections, 100);
        assert_eq!(opts.server.max_connections_per_client, 0);
        let err = server_args_error(&["--max-connections", "0"]);
        assert!(err.contains("--max-connections"), "{err}");
    }

    #[test]
    fn listen_addresses_must_be_socket_addresses() {
        assert!(parse_listen("127.0.0.1:2585").is_ok());
        assert!(parse_listen("localhost").is_err());
    }
}
