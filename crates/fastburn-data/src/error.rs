//! The typed errors of the data pipeline.

use std::path::PathBuf;

/// An error while scanning, decoding, transforming or batching images.
///
/// Every variant that concerns a file or folder carries its path, so the message shows the
/// user which one to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The dataset folder does not exist.
    #[error("dataset folder not found: {path}")]
    FolderNotFound {
        /// The missing folder.
        path: PathBuf,
    },

    /// The `train` or `valid` subfolder does not exist.
    #[error(
        "{split} folder not found: {path} (set its name with `.{split}(name)` or use `.valid_pct(..)`)"
    )]
    SplitFolderNotFound {
        /// `train` or `valid`.
        split: &'static str,
        /// The missing folder.
        path: PathBuf,
    },

    /// A class folder contains no image files.
    #[error("class folder contains no images: {path}")]
    EmptyClass {
        /// The empty class folder.
        path: PathBuf,
    },

    /// Every image of a class folder failed to decode, so skipping corrupt images would leave
    /// the class without images in that split.
    #[error(
        "every image in class folder {path} is corrupt, so skipping them would leave the class \
         empty. Fix or remove them"
    )]
    CorruptClass {
        /// The class folder.
        path: PathBuf,
    },

    /// Two class folders have the same name once their names are read as UTF-8, which
    /// replaces invalid bytes.
    #[error("class folders {first} and {second} both read as class `{class}`; rename one")]
    DuplicateClass {
        /// The class name.
        class: String,
        /// The first folder.
        first: PathBuf,
        /// The second folder.
        second: PathBuf,
    },

    /// The validation split has a class folder that the training split lacks.
    #[error("class `{class}` of the validation set is missing from the training set: {path}")]
    UnknownValidClass {
        /// The class name.
        class: String,
        /// The class folder in the validation split.
        path: PathBuf,
    },

    /// A split folder contains no class folders with images.
    #[error("no images found in {path}: expected one subfolder of images per class")]
    NoImages {
        /// The folder that was scanned.
        path: PathBuf,
    },

    /// An image file has zero bytes.
    #[error("image file is empty (0 bytes): {path}")]
    EmptyFile {
        /// The empty file.
        path: PathBuf,
    },

    /// A JPEG file ends before its end-of-image marker, so part of its pixels are missing.
    #[error("image file is truncated (the JPEG end-of-image marker is missing): {path}")]
    TruncatedJpeg {
        /// The file.
        path: PathBuf,
    },

    /// An image file could not be decoded: truncated, corrupt or not an image.
    #[error("failed to decode image {path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },

    /// An image declares dimensions above the decoding limit, as decompression bombs do.
    #[error(
        "image {path} declares {width}x{height} pixels, above the limit of {max_pixels} pixels"
    )]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// The declared width.
        width: u32,
        /// The declared height.
        height: u32,
        /// The maximum number of pixels accepted.
        max_pixels: u64,
    },

    /// Reading a file or folder failed.
    #[error("failed to read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Writing an output file failed.
    #[error("failed to write {path}: {message}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The cause of the failure.
        message: String,
    },

    /// Some image files could not be read while building the DataBunch.
    ///
    /// All of them are listed at once; `skip_corrupt(true)` drops them instead.
    #[error("{} corrupt image file(s) found; fix or remove them, or build with `skip_corrupt(true)`:\n{}", .errors.len(), list_errors(.errors))]
    CorruptImages {
        /// One error per corrupt file, in path order.
        errors: Vec<DataError>,
    },

    /// A builder setting is out of range.
    #[error("invalid setting `{name}`: {message}")]
    InvalidConfig {
        /// The builder method, such as `valid_pct`.
        name: &'static str,
        /// The reason the value is rejected.
        message: String,
    },

    /// A worker thread that prepares batches panicked.
    #[error("a data loader worker thread panicked while preparing batch {batch}")]
    WorkerPanicked {
        /// The index of the batch in the epoch.
        batch: usize,
    },
}

fn list_errors(errors: &[DataError]) -> String {
    let lines: Vec<String> = errors.iter().map(|error| format!("  - {error}")).collect();
    lines.join("\n")
}

impl DataError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
