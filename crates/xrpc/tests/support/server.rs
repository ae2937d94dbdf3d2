//! Starts the real server on 127.0.0.1:0 over a seeded temporary database.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use xrpc::{AppState, ServerConfig};

use super::http::Conn;

/// A running server and what it serves.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The store behind it (write through it to change what is served).
    pub store: Store,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// The process-wide Prometheus recorder: installed once, its handle shared by every router.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .install_recorder()
                .unwrap_or_else(|e| panic!("install recorder: {e}"));
            xrpc::describe_metrics();
            handle
        })
        .clone()
}

impl TestServer {
    /// A seeded server with default state.
    pub async fn start() -> TestServer {
        TestServer::start_with(|s| s).await
    }

    /// A seeded server whose state `f` may adjust.
    pub async fn start_with(f: impl FnOnce(AppState) -> AppState) -> TestServer {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store = Store::open(&dir.path().join("index.sqlite"))
            .unwrap_or_else(|e| panic!("open store: {e}"));
        super::seed::seed(&store).await;
        let state = f(AppState::new(store.reader(), "1.2.3-test"));
        TestServer::run(dir, store, state).await
    }

    /// A seeded server with default state and the limits of `cfg`.
    pub async fn start_limited(cfg: ServerConfig) -> TestServer {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store = Store::open(&dir.path().join("index.sqlite"))
            .unwrap_or_else(|e| panic!("open store: {e}"));
        super::seed::seed(&store).await;
        let app = xrpc::router(AppState::new(store.reader(), "1.2.3-test"));
        TestServer::run_app(dir, store, app, cfg).await
    }

    /// Serves `state` (already built over `store`) with the default limits but no rate
    /// limit: the tests send many requests from one address.
    pub async fn run(dir: tempfile::TempDir, store: Store, state: AppState) -> TestServer {
        let app = xrpc::router(state);
        TestServer::run_app(dir, store, app, ServerConfig::unlimited()).await
    }

    /// Serves `app` with the limits of `cfg`.
    pub async fn run_app(
        dir: tempfile::TempDir,
        store: Store,
        app: axum::Router,
        cfg: ServerConfig,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(xrpc::serve_with(listener, app, cfg, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            store,
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    /// A fresh keep-alive connection.
    pub async fn conn(&self) -> Conn {
        Conn::connect(self.addr)
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"))
    }

    /// GET `target` on a fresh connection.
    pub async fn get(&self, target: &str) -> super::http::Response {
        self.conn()
            .await
            .get(target)
            .await
            .unwrap_or_else(|e| panic!("GET {target}: {e}"))
    }

    /// Signals shutdown and waits for the server to stop.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| panic!("server task: {e}")),
            None => Ok(()),
        }
    }
}

/// A live status that says what it is told.
pub struct FixedLive {
    /// Reported as `connected`.
    pub connected: bool,
    /// Reported as `lagSeconds`.
    pub lag: Option<f64>,
}

impl xrpc::LiveStatus for FixedLive {
    fn connected(&self) -> bool {
        self.connected
    }
    fn lag_seconds(&self) -> Option<f64> {
        self.lag
    }
}

/// A `FixedLive` as the trait object `AppState` takes.
pub fn live(connected: bool, lag: Option<f64>) -> Arc<dyn xrpc::LiveStatus> {
    Arc::new(FixedLive { connected, lag })
}
