//! The rock-paper-scissors notebook as one function, shared by `examples/rps.rs` and the
//! integration test: data, `show_batch`, `cnn_learner`, `fit_one_cycle(4)`, interpretation,
//! `unfreeze`, `fit_one_cycle(1)`, `lr_find`, `fit_one_cycle(2, slice(5e-4, 3e-3))`,
//! interpretation again, `export` and `predict`.

mod config;
mod run;
mod stage;
mod summary;

pub use config::{NotebookConfig, parse_arch};
pub use run::{NotebookError, run_notebook};
pub use stage::StageResult;
pub use summary::NotebookSummary;
