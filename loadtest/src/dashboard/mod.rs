//! The live dashboard (`--dashboard`) and the report that replays it
//! (`--chart`): what an instructor puts on the wall. The moment that
//! teaches is the one where the units sold cross the stock line and keep
//! climbing, the oversold counter turns, and — one backend later — stops
//! dead; a table at the end cannot show it.
//!
//! The dashboard is the top of the crate and only *subscribes*: it reads
//! the run's [`EventLog`](crate::events::EventLog) and presses the
//! instructor's [`Pace`](crate::pace::Pace); the runner does not know it
//! exists.
//!
//! * [`server`]: the page, uPlot and the events (server-sent events), served
//!   by the load tester itself, and the instructor's button;
//! * [`page`]: the page, live or self-contained for the report;
//! * [`palette`]: its colours, checked for colour-blind viewers.

pub mod page;
pub mod palette;
pub mod server;
