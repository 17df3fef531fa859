//! Callbacks built on the [`Callback`](crate::Callback) trait.

mod csv_logger;
mod gradient_clipping;
mod terminate_on_nan;
mod tracker;

pub use csv_logger::CsvLogger;
pub use gradient_clipping::GradientClipping;
pub use terminate_on_nan::TerminateOnNaN;
pub use tracker::{EarlyStopping, Mode, SaveModelCallback};
