//! Errors of the interpretation: invalid predictions and failed plots.

use std::path::PathBuf;

/// Error returned when predictions are inconsistent or a plot cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InterpretError {
    /// The class list is empty, so no prediction can be interpreted.
    #[error("no classes given: an interpretation needs at least one class name")]
    NoClasses,

    /// Two classes share a name, which would make `most_confused` ambiguous.
    #[error("class name {name:?} appears more than once in the class list")]
    DuplicateClass {
        /// The repeated class name.
        name: String,
    },

    /// A per-item vector does not have one entry per item.
    #[error("{field} has {found} entries but there are {expected} items: every per-item vector needs one entry per item")]
    LengthMismatch {
        /// Name of the vector (`probs`, `targets` or `losses`).
        field: &'static str,
        /// Number of items.
        expected: usize,
        /// Number of entries found.
        found: usize,
    },

    /// A target class index is not below the number of classes.
    #[error("target {target} of item {index} ({path}) is out of range for {classes} classes")]
    TargetOutOfRange {
        /// Position of the item in the validation set.
        index: usize,
        /// File of the item.
        path: PathBuf,
        /// The invalid class index.
        target: usize,
        /// Number of classes.
        classes: usize,
    },

    /// A probability row has the wrong length, a value outside 0..=1, or does not sum to 1.
    #[error("probability row of item {index} ({path}) is invalid: {reason}")]
    InvalidProbabilities {
        /// Position of the item in the validation set.
        index: usize,
        /// File of the item.
        path: PathBuf,
        /// Description of the problem in the row.
        reason: String,
    },

    /// A loss is NaN or negative, which no cross-entropy loss can be.
    #[error("loss of item {index} ({path}) is {loss}: losses must be non-negative numbers")]
    InvalidLoss {
        /// Position of the item in the validation set.
        index: usize,
        /// File of the item.
        path: PathBuf,
        /// The invalid loss.
        loss: f32,
    },

    /// The learner failed to predict on the validation set.
    #[error("failed to compute validation predictions: {0}")]
    Learner(#[from] fastburn_learner::LearnerError),

    /// A prediction's target differs from the label of the item at the same position, so items
    /// and predictions are not in the same order.
    #[error("validation item {index} ({path}) has label {label} but its prediction has target {target}: the data set must list its validation items in batch order")]
    TargetMismatch {
        /// Position of the item in the validation set.
        index: usize,
        /// File of the item.
        path: PathBuf,
        /// Class index of the item in the data set.
        label: usize,
        /// Class index that came with the prediction.
        target: usize,
    },

    /// A plot was requested with nothing to show.
    #[error("nothing to plot: {reason}")]
    NothingToPlot {
        /// Reason the plot would be empty.
        reason: String,
    },

    /// More images were requested in one top-losses plot than fit in a picture.
    #[error("plot_top_losses was asked for {requested} images but one plot holds at most {max}; request fewer")]
    TooManyImages {
        /// Number of images requested (after capping at the number of items).
        requested: usize,
        /// Maximum number of images in one plot.
        max: usize,
    },

    /// An item's image file could not be read or decoded.
    #[error("failed to open an image for the top-losses plot: {source}")]
    OpenImage {
        /// File of the item.
        path: PathBuf,
        /// The error of fastburn-data's decoder, which names the file too.
        #[source]
        source: fastburn_data::DataError,
    },

    /// Writing the PNG file failed.
    #[error("failed to write {path}: {source}")]
    Write {
        /// Destination of the plot.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// Encoding the PNG failed.
    #[error("failed to encode PNG {path}: {source}")]
    Encode {
        /// Destination of the plot.
        path: PathBuf,
        /// The encoder's error.
        source: image::ImageError,
    },
}
