//! Atomic PNG output: a plot is either written whole or not at all.

use std::io::Cursor;
use std::path::Path;

use image::{ImageFormat, RgbImage};

use crate::InterpretError;

/// Encodes `image` as PNG and writes it whole to `path`, so a reader never sees a half-written
/// file and a failure leaves any previous file in place.
pub(crate) fn save_png_atomic(image: &RgbImage, path: &Path) -> Result<(), InterpretError> {
    let write_error = |source| InterpretError::Write { path: path.to_path_buf(), source };

    let mut encoded = Cursor::new(Vec::new());
    image
        .write_to(&mut encoded, ImageFormat::Png)
        .map_err(|source| InterpretError::Encode { path: path.to_path_buf(), source })?;

    fastburn_data::write_atomic(path, encoded.get_ref()).map_err(write_error)?;
    log::debug!("wrote {}", path.display());
    Ok(())
}
