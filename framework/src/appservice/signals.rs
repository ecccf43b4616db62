//! The signals that stop a running appservice: SIGTERM (what `docker stop`
//! and systemd send) and SIGINT (Ctrl-C). The first one starts the drain of
//! [`Running::wait`](super::Running::wait); a second one during the drain
//! ends the process at once.

/// A signal that stops the appservice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopSignal {
    /// SIGTERM.
    Terminate,
    /// SIGINT (Ctrl-C).
    Interrupt,
}

impl StopSignal {
    /// The signal's name, as logged.
    pub(crate) fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
        }
    }

    /// The exit status of a process ended at once by this signal: 128 plus
    /// the signal's number, as a shell reports a process the signal killed.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            StopSignal::Terminate => 128 + 15,
            StopSignal::Interrupt => 128 + 2,
        }
    }
}

/// The stop signals, caught from the moment this is made (their default
/// action, ending the process, no longer applies).
pub(crate) struct StopSignals {
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts catching SIGTERM and SIGINT. A signal whose handler cannot be
    /// installed is logged and keeps its default action.
    pub(crate) fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let catch = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot catch {name}; it ends the process without a drain");
                    None
                }
            };
            StopSignals {
                terminate: catch(SignalKind::terminate(), "SIGTERM"),
                interrupt: catch(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        {
            StopSignals {}
        }
    }

    /// Waits for the next stop signal; never returns when none is caught.
    pub(crate) async fn next(&mut self) -> StopSignal {
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    // `None` only once the signal driver is gone: wait forever.
                    Some(s) => {
                        if s.recv().await.is_none() {
                            std::future::pending::<()>().await
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(&mut self.terminate) => StopSignal::Terminate,
                () = recv(&mut self.interrupt) => StopSignal::Interrupt,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await
            }
            StopSignal::Interrupt
        }
    }
}

/// Stops the server on the first stop signal and ends the process on the
/// second: the task [`Running::wait`](super::Running::wait) runs beside the
/// drain, aborted once the drain is over.
pub(crate) async fn stop_on_signals(
    mut signals: StopSignals,
    handle: actix_web::dev::ServerHandle,
    drain: std::time::Duration,
) {
    let first = signals.next().await;
    tracing::info!(
        signal = first.name(),
        drain_secs = drain.as_secs_f64(),
        "stopping: no new transactions; running handlers may finish, then progress is written and on_stop runs; a second signal exits at once"
    );
    // The server's end is awaited by `Running::wait`.
    tokio::spawn(handle.stop(true));
    let second = signals.next().await;
    tracing::warn!(
        signal = second.name(),
        "second signal while stopping: exiting at once; events not marked handled are dispatched again at the next start"
    );
    std::process::exit(second.exit_code());
}

#[cfg(test)]
mod tests {
    use super::StopSignal;

    #[test]
    fn exit_codes_are_the_shells() {
        assert_eq!(StopSignal::Terminate.exit_code(), 143);
        assert_eq!(StopSignal::Interrupt.exit_code(), 130);
        assert_eq!(StopSignal::Terminate.name(), "SIGTERM");
    }
}
