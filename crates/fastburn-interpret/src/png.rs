//! Atomic PNG output: a plot is either written whole or not at all.

use std::io::{Cursor, Write};
use std::path::Path;

use image::{ImageFormat, RgbImage};
use tempfile::NamedTempFile;

use crate::InterpretError;

/// Encodes `image` as PNG into a temporary file next to `path`, then renames it to `path`, so a
/// reader never sees a half-written file and a failure leaves any previous file in place.
pub(crate) fn save_png_atomic(image: &RgbImage, path: &Path) -> Result<(), InterpretError> {
    let write_error = |source| InterpretError::Write { path: path.to_path_buf(), source };

    let mut encoded = Cursor::new(Vec::new());
    image
        .write_to(&mut encoded, ImageFormat::Png)
        .map_err(|source| InterpretError::Encode { path: path.to_path_buf(), source })?;

    // The temporary file must be on the same file system as `path` for the rename to be atomic.
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temporary = NamedTempFile::new_in(directory).map_err(write_error)?;
    temporary.write_all(encoded.get_ref()).map_err(write_error)?;
    temporary.as_file().sync_all().map_err(write_error)?;

    temporary.persist(path).map_err(|error| write_error(error.error))?;
    log::debug!("wrote {}", path.display());
    Ok(())
}
