//! Callbacks built on the [`Callback`](crate::Callback) trait.

mod terminate_on_nan;

pub use terminate_on_nan::TerminateOnNaN;
