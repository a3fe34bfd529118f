//! Ctrl-C (SIGINT) and SIGTERM: the first asks the running command to stop
//! cleanly (downloads sync their `.part` files and save their manifest,
//! waits print the job id), the second exits at once with code 130. While
//! nothing is listening for the stop (a request being sent), the first
//! exits at once too. Installed by the commands that stop cleanly
//! (`jobs download`, `jobs wait`, `export`); the others keep the default
//! behaviour.

use std::sync::OnceLock;

use tokio::sync::watch;

/// The exit code of a run stopped by a signal (128 + SIGINT).
pub const EXIT_CODE: u8 = 130;

static REQUESTED: OnceLock<watch::Receiver<bool>> = OnceLock::new();

/// Starts listening for the signals (inside the runtime; later calls do
/// nothing).
pub fn install() {
    let (tx, rx) = watch::channel(false);
    if REQUESTED.set(rx).is_err() {
        return;
    }
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        loop {
            #[cfg(unix)]
            let terminated = async {
                match term.as_mut() {
                    Some(term) => {
                        term.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let terminated = std::future::pending::<()>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = terminated => {}
            }
            // One receiver is the static one: nobody else is listening.
            if *tx.borrow() || tx.receiver_count() <= 1 {
                eprintln!("interrupted");
                std::process::exit(i32::from(EXIT_CODE));
            }
            let _ = tx.send(true);
        }
    });
}

/// Resolves once a stop was asked for (never, if [`install`] was not called).
pub async fn requested() {
    let Some(rx) = REQUESTED.get() else {
        return std::future::pending().await;
    };
    let mut rx = rx.clone();
    if rx.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}
