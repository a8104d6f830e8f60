//! The live dashboard (`--dashboard`) and the report that replays it
//! (`--chart`): what an instructor puts on the wall. The moment that
//! teaches is the one where the units sold cross the stock line and keep
//! climbing, the oversold counter turns, and — one backend later — stops
//! dead; a table at the end cannot show it.
//!
//! * [`events`]: what happened, as a list of events — the one source of both
//!   pages;
//! * [`live`]: the running phase's half-second ticks, from the clients'
//!   answers and the ledger;
//! * [`server`]: the page, uPlot and the events (server-sent events), served
//!   by the load tester itself;
//! * [`page`]: the page, live or self-contained for the report;
//! * [`pace`]: `--pace`, the instructor starting each phase.

pub mod events;
pub mod live;
pub mod pace;
pub mod page;
pub mod server;

use std::sync::Arc;

use crate::client::Target;

pub use events::{Event, Events, PlannedPhase, Tick};
pub use live::{LiveWindow, PhaseWatch};
pub use pace::Pace;

/// Everything the dashboard's pages are made from, shared by the run and
/// the server.
#[derive(Default)]
pub struct Dashboard {
    pub events: Events,
    /// With `--pace`: each phase waits for the instructor.
    pub pace: Option<Arc<Pace>>,
}

impl Dashboard {
    /// Before phase `phase` (`label`), with `--pace`: tells the page and
    /// the terminal what comes next and what to ask, and waits for the
    /// instructor.
    pub async fn wait_for_instructor(&self, phase: usize, label: &str, question: &str) {
        if let Some(pace) = &self.pace {
            // Listening before the page is told, so that no go is lost.
            let go = pace.next_go();
            self.events.emit(&Event::Waiting { phase });
            eprintln!(
                "\nnext: {label}\nask the room: {question}\npress Enter (or the dashboard's button) to start it"
            );
            go.await;
        }
    }

    /// Phase `phase` starts its load now, on `targets`: tells the page,
    /// and watches it. `started_unix_ms`: the start the targets' injected
    /// faults are timed from.
    pub fn watch<'a>(
        &'a self,
        phase: usize,
        targets: &'a [Target],
        skus: &'a [String],
        started_unix_ms: u64,
    ) -> PhaseWatch<'a> {
        self.events.emit(&Event::Phase { phase });
        PhaseWatch {
            events: &self.events,
            live: Arc::new(LiveWindow::default()),
            phase,
            targets,
            skus,
            started: tokio::time::Instant::now(),
            started_unix_ms,
            told: Default::default(),
        }
    }
}
