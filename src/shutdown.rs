//! Graceful shutdown, after tokio-rs/mini-redis's `src/shutdown.rs`: one
//! [`Shutdown`] handle is cloned into every long-running part (the HTTP
//! server, the outbox worker, the scheduler); [`Shutdown::trigger`] (on
//! SIGTERM or SIGINT, see [`Signals`]) tells them all at once. Each part
//! stops taking new work, finishes or hands back what it holds, and returns;
//! `serve` then closes the database and exits 0. The grace period bounds the
//! whole stop: work still running when it ends is dropped (an outbox lease is
//! handed back; a request in flight is cut off).

use std::sync::Arc;

use tokio::sync::watch;

/// A shared stop flag that can be awaited.
#[derive(Clone, Debug)]
pub struct Shutdown(Arc<watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }

    /// Asks every part holding a clone to stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Whether a stop was asked for.
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once a stop is asked for (at once if it already was).
    pub async fn triggered(&self) {
        let mut rx = self.0.subscribe();
        // the sender lives in `self`, so waiting cannot fail
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// SIGTERM and SIGINT (Ctrl-C), listened for from the moment this is
/// made: create it before binding the listener, so a stop sent as soon as
/// the port answers is not taken by the default action (exit by signal).
pub struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for {name}");
                    None
                }
            };
            Self {
                term: listen(SignalKind::terminate(), "SIGTERM"),
                int: listen(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Completes on the next signal, naming it.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = next(&mut self.term) => "SIGTERM",
                _ = next(&mut self.int) => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_clone_sees_the_trigger_including_late_waiters() {
        let shutdown = Shutdown::new();
        let waiter = tokio::spawn({
            let s = shutdown.clone();
            async move { s.triggered().await }
        });
        assert!(!shutdown.is_triggered());
        shutdown.clone().trigger();
        waiter.await.unwrap();
        assert!(shutdown.is_triggered());
        // a part that starts waiting after the trigger returns at once
        shutdown.triggered().await;
    }
}
