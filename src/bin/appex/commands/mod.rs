//! One module per command, and what they share.

mod demo;
mod download;
mod export;
mod jobs;
mod land;
mod lookups;
mod records;
mod simulate;
mod sync;

use userpilot_appex::{Client, client::ENV_API_KEY};

use crate::{
    args::{Cli, Command, GlobalArgs},
    errors::CliError,
    output::Ui,
};

/// One run of the command line, as every command gets it: the global
/// options and the output settings.
pub struct Invocation {
    pub global: GlobalArgs,
    pub ui: Ui,
}

impl Invocation {
    /// A client from `--base-url` and `--api-key` (or their variables).
    pub fn client(&self) -> Result<Client, CliError> {
        let key = self
            .global
            .api_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                CliError::Usage(format!("no API key: pass --api-key or set {ENV_API_KEY}"))
            })?;
        let client = Client::builder()
            .base_url(self.global.base_url.clone())
            .api_key(key)
            .allow_insecure_http(self.global.allow_insecure_http)
            .build()?;
        if self.global.allow_insecure_http && client.base_url().starts_with("http://") {
            eprintln!(
                "warning: --allow-insecure-http: the API key is sent unencrypted to {}",
                client.base_url()
            );
        }
        Ok(client)
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Invocation {
        ui: Ui::new(cli.global.json, cli.global.quiet),
        global: cli.global,
    };
    match cli.command {
        Command::Jobs(command) => jobs::run(&ctx, command).await,
        Command::Export(args) => export::run(&ctx, args).await,
        Command::Lookups(args) => lookups::run(&ctx, args).await,
        Command::Simulate(args) => simulate::run(&ctx, args).await,
        Command::Records(args) => records::run(&ctx, args).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
        Command::Sync(args) => sync::run(&ctx, args).await,
        Command::Sql(args) => land::sql(&ctx, args).await,
    }
}
