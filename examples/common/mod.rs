//! What the examples share: the client they talk through, and how they
//! end on an error.

use userpilot_appex::{
    Client,
    simulator::{Simulator, SimulatorConfig},
};

/// A client for the real API when `USERPILOT_API_KEY` is set (and
/// `USERPILOT_APPEX_URL` for EU / dedicated hosts), else for a simulator
/// started in-process, returned with it: keep it alive for the whole run.
pub async fn client() -> userpilot_appex::Result<(Client, Option<Simulator>)> {
    if std::env::var_os("USERPILOT_API_KEY").is_some() {
        eprintln!("using the Userpilot API (USERPILOT_API_KEY is set)");
        return Ok((Client::from_env()?, None));
    }
    let sim = Simulator::start(SimulatorConfig::default().events_per_day(2_500))
        .await
        .map_err(|e| userpilot_appex::Error::Io {
            path: "simulator".into(),
            source: e,
        })?;
    eprintln!(
        "using the built-in simulator at {} (set USERPILOT_API_KEY for the real API)",
        sim.base_url()
    );
    Ok((sim.client()?, Some(sim)))
}

/// Ends the process with the error's message and status 1, if there is one.
pub fn exit_on_error(result: userpilot_appex::Result<()>) {
    if let Err(err) = result {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
