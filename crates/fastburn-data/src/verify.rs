//! Checking every image file while the DataBunch is built, so corrupt files surface up front.

use std::path::PathBuf;

use rayon::prelude::*;

use crate::scan::Item;
use crate::{DataError, open_image, read_image_dimensions};

/// The level of checking that [`crate::ImageDataBunchBuilder::build`] applies to each image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageCheck {
    /// Decode every image: catches truncated and corrupt pixel data too. Takes about as long as
    /// one pass over the dataset without augmentation.
    #[default]
    Decode,
    /// Read only each file's header: catches empty files, files that are not images and
    /// oversized dimensions, but not truncated pixel data, which then fails during an epoch.
    Header,
    /// Check nothing: every problem surfaces when its batch is loaded.
    Skip,
}

/// Checks `items` in parallel and returns each bad file with its error, in the order of
/// `items`.
pub(crate) fn find_corrupt(items: &[Item], check: ImageCheck) -> Vec<(PathBuf, DataError)> {
    let results: Vec<Option<(PathBuf, DataError)>> = items
        .par_iter()
        .map(|item| {
            let outcome = match check {
                ImageCheck::Decode => open_image(&item.path).map(drop),
                ImageCheck::Header => read_image_dimensions(&item.path).map(drop),
                ImageCheck::Skip => Ok(()),
            };
            outcome.err().map(|error| (item.path.clone(), error))
        })
        .collect();
    results.into_iter().flatten().collect()
}
