//! `serve`: the XRPC server alone over an existing index; `--read-only` for a replica that
//! never writes (the index must already exist).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::{config, server, shutdown};

/// Runs `serve` until SIGINT/SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listen = config::parse_listen(&args.run.server.listen)?;
    let http = config::http_options(&args.run.server)?;
    let service_did = config::service_did(args.run.server.service_did.as_deref())?;
    // Opening read-write applies migrations; a replica only reads what is there.
    let (reader, writable) = if args.read_only {
        let options = args.run.db.store_options().reader;
        let reader = store::Reader::open_read_only_with(&args.run.db.db, options)
            .with_context(|| format!("open the index {} read-only", args.run.db.db.display()))?;
        (reader, None)
    } else {
        let store = store::Store::open_with(&args.run.db.db, args.run.db.store_options())
            .with_context(|| format!("open the index {}", args.run.db.db.display()))?;
        (store.reader(), Some(store))
    };
    let retention = config::parse_duration("subscribe-retention", &args.run.subscribe_retention)?;
    let kept = args.run.subscribe_kept_frames as usize;
    let shutdown = shutdown::on_signal();
    let mut state =
        xrpc::AppState::new(reader, server::VERSION).with_live(Arc::new(xrpc::NoLiveStatus));
    match &writable {
        // A writer's feed is woken by its commits and prunes its outbox; a replica's feed
        // polls the outbox (started on the first subscription) and never prunes.
        Some(store) => {
            state = state.with_link_feed(crate::subscribe::start(
                store,
                retention,
                kept,
                shutdown.clone(),
            ));
        }
        None => state = state.with_read_only(),
    }
    if let Some(did) = service_did {
        state = state.with_service_did(did);
    }
    let metrics = match http.metrics_listen {
        Some(addr) => {
            let handle = server::install_metrics()?;
            let listener = server::bind_metrics(addr).await?;
            Some(tokio::spawn(server::serve_metrics(
                listener,
                handle,
                shutdown.clone(),
            )))
        }
        None => None,
    };
    let served = server::serve(listen, state, http, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(task) = metrics {
        task.await.context("metrics listener")??;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
