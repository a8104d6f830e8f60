//! `--pace`: the instructor starts each phase — with Enter in the terminal,
//! or the button on the dashboard — after the room has been asked what it
//! expects. Both just bump a counter; a phase waits for the next bump.
//!
//! An input to the run, not a view: the runner waits on it, and the
//! dashboard's button and the terminal press it. It lives on its own, low
//! in the crate, so that the runner can wait for the instructor without
//! knowing the dashboard, and the dashboard can press without knowing the
//! runner. The terminal's half (the prompt, the Enter key) stays here: it
//! is one conversation.

use tokio::sync::watch;

use crate::i18n::Lang;
use crate::tr;

/// The instructor's go: a counter bumped once per go.
pub struct Pace {
    go: watch::Sender<u64>,
}

impl Pace {
    /// Listens to the terminal too, when standard input is one: each line
    /// (Enter) is a go.
    pub fn new(terminal: bool) -> std::sync::Arc<Pace> {
        let pace = std::sync::Arc::new(Pace {
            go: watch::channel(0).0,
        });
        if terminal {
            let listener = pace.clone();
            // Blocking reads belong on a thread of their own; it ends with
            // the process.
            std::thread::spawn(move || {
                let mut line = String::new();
                while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                    listener.go();
                    line.clear();
                }
            });
        }
        pace
    }

    /// Starts the phase that waits (nothing if none does).
    pub fn go(&self) {
        self.go.send_modify(|count| *count += 1);
    }

    /// Before phase `label`: listens for the next go, has `announce` tell
    /// whoever watches (the runner emits an event), asks on the terminal
    /// what to ask the room, and waits for the go.
    pub async fn wait_for_go(&self, lang: Lang, label: &str, question: &str, announce: impl FnOnce()) {
        // Listening before the page is told, so that no go is lost.
        let go = self.next_go();
        announce();
        eprintln!(
            "\n{}\n{}\n{}",
            tr!(lang, "pace-next", label = label),
            tr!(lang, "pace-ask", question = question),
            tr!(lang, "pace-press")
        );
        go.await;
    }

    /// The next go, listened for from now on.
    pub fn next_go(&self) -> impl Future<Output = ()> + use<> {
        let mut go = self.go.subscribe();
        go.mark_unchanged();
        async move {
            // Ends early only if the sender is dropped: with the run.
            let _ = go.changed().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_phase_waits_for_a_go_given_after_it_started_listening() {
        let pace = Pace::new(false);
        // A go before anyone waits is not saved up for later.
        pace.go();
        let waiting = tokio::time::timeout(Duration::from_millis(50), pace.next_go()).await;
        assert!(waiting.is_err(), "went without a go");
        // A go given after listening began, even before anyone awaits it.
        let next = pace.next_go();
        pace.go();
        let waited = tokio::time::timeout(Duration::from_secs(5), next).await;
        assert!(waited.is_ok(), "the go did not start it");
    }
}
