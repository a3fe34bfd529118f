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

/// What every command gets: the global options and the output settings.
pub struct Ctx {
    pub global: GlobalArgs,
    pub ui: Ui,
}

impl Ctx {
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
        Ok(Client::builder()
            .base_url(self.global.base_url.clone())
            .api_key(key)
            .build()?)
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx {
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
