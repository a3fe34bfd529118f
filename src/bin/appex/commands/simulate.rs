//! `appex simulate`: the built-in simulator in the foreground until Ctrl-C.

use std::time::Duration;

use serde::Serialize;
use userpilot_appex::{
    client::{ENV_API_KEY, ENV_BASE_URL},
    simulator::{Simulator, SimulatorConfig},
};

use super::Invocation;
use crate::{args::SimulateArgs, errors::CliError};

/// `simulate --json`.
#[derive(Debug, Serialize)]
struct SimulateOut<'a> {
    base_url: &'a str,
    api_key: &'a str,
}

pub async fn run(ctx: &Invocation, args: SimulateArgs) -> Result<(), CliError> {
    // The simulator's own key, never `--api-key` / USERPILOT_API_KEY: a real
    // key must not be printed.
    let config = SimulatorConfig::default()
        .events_per_day(args.events)
        .seed(args.seed)
        .chunk_duration(Duration::from_millis(args.chunk_ms));
    let sim = start(config, args.port).await?;
    // Register the Ctrl-C handler before announcing the simulator, so a
    // caller that interrupts right after reading the lines stops it cleanly.
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let early = futures::poll!(ctrl_c.as_mut());
    let base_url = sim.base_url();
    if ctx.ui.json {
        ctx.ui.print_json(&SimulateOut {
            base_url: &base_url,
            api_key: sim.api_key(),
        })?;
    } else {
        ctx.ui.print_lines([
            format!("export {ENV_BASE_URL}={base_url}"),
            format!("export {ENV_API_KEY}={}", sim.api_key()),
        ])?;
    }
    ctx.ui.note(format!(
        "simulator listening on {base_url}; press Ctrl-C to stop"
    ));
    let interrupted = match early {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => ctrl_c.await,
    };
    interrupted.map_err(|e| CliError::Other(format!("cannot wait for Ctrl-C: {e}")))?;
    ctx.ui.note("stopping the simulator");
    sim.shutdown().await;
    Ok(())
}

/// Starts a simulator on `port` (0: any), with a clear error if it is taken.
pub async fn start(config: SimulatorConfig, port: u16) -> Result<Simulator, CliError> {
    Simulator::start(config.port(port)).await.map_err(|e| {
        CliError::Other(format!(
            "cannot start the simulator on 127.0.0.1:{port}: {e}"
        ))
    })
}
