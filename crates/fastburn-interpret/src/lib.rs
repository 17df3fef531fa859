//! fastai v1's `ClassificationInterpretation` for fastburn: from a classifier's predictions on
//! the validation set, the items with the largest losses, the confusion matrix, the most
//! frequent confusions, and PNG plots of the first two.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use fastburn_interpret::ClassificationInterpretation;
//!
//! let interpretation = ClassificationInterpretation::new(
//!     vec!["paper".into(), "rock".into()],
//!     vec![PathBuf::from("valid/paper/1.png"), PathBuf::from("valid/rock/2.png")],
//!     vec![vec![0.9, 0.1], vec![0.6, 0.4]],
//!     vec![0, 1],
//!     vec![0.105, 0.916],
//! )?;
//! assert_eq!(interpretation.most_confused(1), vec![("rock".into(), "paper".into(), 1)]);
//! interpretation.plot_top_losses(2, "top_losses.png")?;
//! # Ok::<(), fastburn_interpret::InterpretError>(())
//! ```

mod colormap;
mod confusion_plot;
mod error;
mod from_learner;
mod interpretation;
mod png;
mod text;
mod top_losses_plot;

pub use error::InterpretError;
pub use from_learner::ValidItems;
pub use interpretation::{ClassificationInterpretation, TopLoss};
pub use top_losses_plot::{MAX_TOP_LOSSES_IMAGES, TOP_LOSSES_TILE_SIZE};
