//! The report of a run: first plain data ([`model`]: what `--json` writes,
//! what the runner fills in and the dashboard's verdicts carry), then the
//! table printed at the end ([`table`]).
//!
//! Two files because they sit at two heights: the data is shared by the
//! runner, the table and the dashboard, so it must import none of them;
//! the table is a view, read by `main` only.

pub mod model;
pub mod table;

pub use model::{PhaseReport, Report};
pub use table::render_table;
