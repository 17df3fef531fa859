//! Image decoding with limits against decompression bombs.

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::DataError;

/// The maximum number of pixels an image may declare: Pillow's `MAX_IMAGE_PIXELS` default
/// (1 GiB / 4 / 3), the limit fastai v1 inherits through PIL.
pub const MAX_IMAGE_PIXELS: u64 = 1024 * 1024 * 1024 / 4 / 3;

/// The largest side of the square images a `DataBunch` makes: the largest `n` with `n * n`
/// within [`MAX_IMAGE_PIXELS`], so that an output image is no larger than an input may be.
pub const MAX_IMAGE_SIZE: usize = 9459;

/// The maximum number of bytes a decoder may allocate, enough for an RGBA 16-bit image at
/// [`MAX_IMAGE_PIXELS`].
const MAX_DECODE_ALLOC: u64 = 1024 * 1024 * 1024;

/// Decodes the image at `path` into 8-bit RGB.
///
/// The format comes from the file's magic bytes, falling back on its extension. Any colour
/// type is converted: alpha is dropped without compositing (as PIL's `convert('RGB')` does),
/// grayscale is replicated, 16-bit and float samples are scaled to 0..255, palettes are
/// expanded. Images that declare more than [`MAX_IMAGE_PIXELS`] pixels are rejected before
/// any pixel buffer is allocated.
pub fn open_image(path: &Path) -> Result<RgbImage, DataError> {
    let decoded = decode_dynamic(path)?;
    Ok(decoded.to_rgb8())
}

/// Reads only the header of the image at `path` and returns its `(width, height)`.
///
/// This catches empty files, files that are not images and oversized declared dimensions,
/// but not truncated pixel data.
pub fn read_image_dimensions(path: &Path) -> Result<(u32, u32), DataError> {
    let decoder = open_decoder(path)?;
    Ok(decoder.dimensions())
}

fn decode_dynamic(path: &Path) -> Result<DynamicImage, DataError> {
    let decoder = open_decoder(path)?;
    check_jpeg_complete(path)?;
    DynamicImage::from_decoder(decoder).map_err(|source| DataError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens a decoder for `path` after checking the file size and the declared dimensions.
fn open_decoder(path: &Path) -> Result<impl ImageDecoder, DataError> {
    let metadata = std::fs::metadata(path).map_err(|source| DataError::io(path, source))?;
    if metadata.len() == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }

    let mut reader = ImageReader::open(path)
        .and_then(|reader| reader.with_guessed_format())
        .map_err(|source| DataError::io(path, source))?;

    // Limits are applied once the header is read: some decoders check them against the
    // declared size already while opening, which would hide the dimensions from the error.
    reader.no_limits();

    let decode_error = |source| DataError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;

    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS {
        return Err(DataError::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_pixels: MAX_IMAGE_PIXELS,
        });
    }

    // The allocation limit is set after the dimension check, so an oversized image is reported
    // with its dimensions instead of as a generic "limits exceeded".
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    decoder.set_limits(limits).map_err(decode_error)?;
    Ok(decoder)
}

/// Rejects a JPEG whose last scan is not followed by the end-of-image marker.
///
/// The `image` crate (0.25) decodes a JPEG cut short without an error and fills the missing
/// rows, where PIL, and so fastai, raises "image file is truncated". Inside entropy-coded data
/// every 0xFF byte is followed by 0x00 or a restart marker. So the bytes FF DA (start of scan)
/// and FF D9 (end of image) only occur as real markers, and a complete file has an FF D9 after
/// its last FF DA. Files that are not JPEGs pass unchecked.
fn check_jpeg_complete(path: &Path) -> Result<(), DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::io(path, source))?;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(());
    }

    let last_marker = |marker: u8| bytes.windows(2).rposition(|pair| pair == [0xFF, marker]);
    let complete = match (last_marker(0xDA), last_marker(0xD9)) {
        (Some(scan), Some(end)) => end > scan,
        (None, _) => true,
        (Some(_), None) => false,
    };
    if complete {
        Ok(())
    } else {
        Err(DataError::TruncatedJpeg {
            path: path.to_path_buf(),
        })
    }
}
