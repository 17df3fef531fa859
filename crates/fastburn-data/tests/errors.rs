//! Bad input: each case gives a typed error that names the file or folder.

mod common;

use std::io::Cursor;
use std::path::Path;

use common::{make_dataset, write_solid_png};
use fastburn_data::{
    DataError, GetTransformsConfig, ImageCheck, ImageDataBunch, MAX_IMAGE_PIXELS, MAX_IMAGE_SIZE,
    Transform, open_image,
};
use image::{ImageFormat, Rgb, RgbImage};

fn build(root: &Path) -> Result<ImageDataBunch, DataError> {
    ImageDataBunch::from_folder(root).num_workers(0).build()
}

fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 7) as u8, (y * 13) as u8, 5])
    });
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Encodes a valid PNG whose header declares `width x height` pixels (with a correct checksum).
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png_bytes(1, 1);
    // The IHDR chunk follows the 8-byte signature: length (4), type (4), width, height, ...
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn missing_folder() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    match build(&missing) {
        Err(DataError::FolderNotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected FolderNotFound, got {other:?}"),
    }
}

#[test]
fn missing_train_and_valid() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("valid", 1)]);
    match build(root.path()) {
        Err(DataError::SplitFolderNotFound { split, path }) => {
            assert_eq!(split, "train");
            assert_eq!(path, root.path().join("train"));
        }
        other => panic!("expected missing train, got {other:?}"),
    }

    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 1)]);
    match build(root.path()) {
        Err(DataError::SplitFolderNotFound { split, path }) => {
            assert_eq!(split, "valid");
            assert_eq!(path, root.path().join("valid"));
        }
        other => panic!("expected missing valid, got {other:?}"),
    }
}

#[test]
fn empty_class_folder() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 2), ("valid", 1)]);
    let empty = root.path().join("train/b");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("README.txt"), "not an image").unwrap();
    match build(root.path()) {
        Err(DataError::EmptyClass { path }) => assert_eq!(path, empty),
        other => panic!("expected EmptyClass, got {other:?}"),
    }
}

#[test]
fn valid_class_missing_from_train() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 2), ("valid", 1)]);
    write_solid_png(&root.path().join("valid/zebra/0.png"), 4, 4, [1, 2, 3]);
    match build(root.path()) {
        Err(DataError::UnknownValidClass { class, path }) => {
            assert_eq!(class, "zebra");
            assert_eq!(path, root.path().join("valid/zebra"));
        }
        other => panic!("expected UnknownValidClass, got {other:?}"),
    }
}

#[test]
fn no_images_at_all() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("train")).unwrap();
    std::fs::create_dir_all(root.path().join("valid")).unwrap();
    std::fs::write(root.path().join("train/.DS_Store"), "x").unwrap();
    match build(root.path()) {
        Err(DataError::NoImages { path }) => assert_eq!(path, root.path().join("train")),
        other => panic!("expected NoImages, got {other:?}"),
    }
}

#[test]
fn invalid_settings() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 2), ("valid", 1)]);
    let cases = [
        (ImageDataBunch::from_folder(root.path()).size(0), "size"),
        (
            ImageDataBunch::from_folder(root.path()).size(MAX_IMAGE_SIZE + 1),
            "size",
        ),
        (
            ImageDataBunch::from_folder(root.path()).size(usize::MAX),
            "size",
        ),
        (
            ImageDataBunch::from_folder(root.path()).batch_size(0),
            "batch_size",
        ),
        (
            ImageDataBunch::from_folder(root.path()).valid_pct(1.5),
            "valid_pct",
        ),
        (
            ImageDataBunch::from_folder(root.path()).max_items(0),
            "max_items",
        ),
        (
            ImageDataBunch::from_folder(root.path())
                .ds_tfms(GetTransformsConfig::new().with_max_lighting(1.0).build()),
            "train_tfms",
        ),
        (
            ImageDataBunch::from_folder(root.path())
                .valid_tfms(vec![Transform::flip_lr(f32::NAN)]),
            "valid_tfms",
        ),
    ];
    for (builder, expected) in cases {
        match builder.build() {
            Err(DataError::InvalidConfig { name, .. }) => assert_eq!(name, expected),
            other => panic!("expected InvalidConfig for {expected}, got {other:?}"),
        }
    }
}

#[test]
fn max_image_size_fits_pixel_limit() {
    let side = MAX_IMAGE_SIZE as u64;
    assert!(side * side <= MAX_IMAGE_PIXELS);
    assert!((side + 1) * (side + 1) > MAX_IMAGE_PIXELS);
}

#[test]
fn open_image_bad_files() {
    let root = tempfile::tempdir().unwrap();

    let empty = root.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    match open_image(&empty) {
        Err(DataError::EmptyFile { path }) => assert_eq!(path, empty),
        other => panic!("expected EmptyFile, got {other:?}"),
    }

    let truncated = root.path().join("truncated.png");
    let bytes = png_bytes(64, 64);
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    match open_image(&truncated) {
        Err(DataError::Decode { path, .. }) => assert_eq!(path, truncated),
        other => panic!("expected Decode for the truncated PNG, got {other:?}"),
    }

    let text = root.path().join("x.jpg");
    std::fs::write(&text, "this is a text file, not a JPEG\n").unwrap();
    match open_image(&text) {
        Err(DataError::Decode { path, .. }) => assert_eq!(path, text),
        other => panic!("expected Decode for the text file, got {other:?}"),
    }

    let huge = root.path().join("huge.png");
    std::fs::write(&huge, png_declaring(100_000, 100_000)).unwrap();
    match open_image(&huge) {
        Err(DataError::ImageTooLarge {
            path,
            width,
            height,
            max_pixels,
        }) => {
            assert_eq!(path, huge);
            assert_eq!((width, height), (100_000, 100_000));
            assert_eq!(max_pixels, MAX_IMAGE_PIXELS);
        }
        other => panic!("expected ImageTooLarge, got {other:?}"),
    }
}

/// Writes the four kinds of corrupt file into `dir`, returning their paths in sorted order.
fn write_corrupt_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let paths =
        ["a_empty.png", "b_truncated.png", "c_text.jpg", "d_huge.png"].map(|name| dir.join(name));
    std::fs::write(&paths[0], b"").unwrap();
    let bytes = png_bytes(64, 64);
    std::fs::write(&paths[1], &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(&paths[2], "hello").unwrap();
    std::fs::write(&paths[3], png_declaring(50_000, 50_000)).unwrap();
    paths.to_vec()
}

#[test]
fn corrupt_files_reported_together() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 3), ("valid", 2)]);
    let mut corrupt = write_corrupt_files(&root.path().join("train/a"));
    corrupt.extend(write_corrupt_files(&root.path().join("valid/b")));

    let error = build(root.path()).unwrap_err();
    let message = error.to_string();
    let DataError::CorruptImages { errors } = error else {
        panic!("expected CorruptImages, got {error:?}");
    };
    assert_eq!(errors.len(), 8);
    for path in &corrupt {
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
    assert!(matches!(errors[0], DataError::EmptyFile { .. }));
    assert!(matches!(errors[1], DataError::Decode { .. }));
    assert!(matches!(errors[2], DataError::Decode { .. }));
    assert!(matches!(errors[3], DataError::ImageTooLarge { .. }));
}

#[test]
fn skip_corrupt_drops_them() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 3), ("valid", 2)]);
    write_corrupt_files(&root.path().join("train/a"));
    // A truncated JPEG is reported by its own error variant, in both splits.
    let original = common::shared_dir().join("data/rps/train/rock/rock01-000.jpg");
    let bytes = std::fs::read(&original).unwrap();
    for split in ["train", "valid"] {
        let truncated = root.path().join(split).join("a/truncated.jpg");
        std::fs::write(&truncated, &bytes[..bytes.len() * 3 / 8]).unwrap();
    }

    let data = ImageDataBunch::from_folder(root.path())
        .skip_corrupt(true)
        .build()
        .unwrap();
    assert_eq!(data.train_len(), 6);
    assert_eq!(data.valid_len(), 4);
}

#[test]
fn skip_corrupt_rejects_all_corrupt_class() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 3), ("valid", 2)]);
    let class = root.path().join("train/a");
    for entry in std::fs::read_dir(&class).unwrap() {
        std::fs::write(entry.unwrap().path(), b"not an image").unwrap();
    }

    let result = ImageDataBunch::from_folder(root.path())
        .skip_corrupt(true)
        .build();
    match result {
        Err(DataError::CorruptClass { path }) => assert_eq!(path, class),
        other => panic!("expected CorruptClass, got {other:?}"),
    }
}

#[test]
fn header_check_misses_truncation_until_batch() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 1), ("valid", 1)]);
    let truncated = root.path().join("train/a/zz.png");
    let bytes = png_bytes(64, 64);
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let data = ImageDataBunch::from_folder(root.path())
        .image_check(ImageCheck::Header)
        .batch_size(2)
        .num_workers(1)
        .build()
        .unwrap();
    let device = burn::tensor::Device::default();
    let result = data.train_batches(0, &device).next().unwrap();
    match result {
        Err(DataError::Decode { path, .. }) => assert_eq!(path, truncated),
        other => panic!("expected Decode from the batch, got {other:?}"),
    }
}

#[test]
fn colour_types_become_rgb() {
    let root = tempfile::tempdir().unwrap();

    let rgba = root.path().join("rgba.png");
    image::RgbaImage::from_pixel(3, 2, image::Rgba([10, 20, 30, 40]))
        .save(&rgba)
        .unwrap();
    assert_eq!(open_image(&rgba).unwrap().get_pixel(1, 1).0, [10, 20, 30]);

    let gray = root.path().join("gray.png");
    image::GrayImage::from_pixel(3, 2, image::Luma([77]))
        .save(&gray)
        .unwrap();
    assert_eq!(open_image(&gray).unwrap().get_pixel(2, 0).0, [77, 77, 77]);

    let gray_alpha = root.path().join("gray_alpha.png");
    image::GrayAlphaImage::from_pixel(3, 2, image::LumaA([99, 0]))
        .save(&gray_alpha)
        .unwrap();
    assert_eq!(
        open_image(&gray_alpha).unwrap().get_pixel(0, 0).0,
        [99, 99, 99]
    );

    let deep = root.path().join("deep.png");
    let pixel = image::Rgb([65535u16, 32896, 0]);
    image::ImageBuffer::from_pixel(3, 2, pixel)
        .save(&deep)
        .unwrap();
    assert_eq!(open_image(&deep).unwrap().get_pixel(0, 1).0, [255, 128, 0]);

    // GIF stores a palette; two colours fit it exactly.
    let gif = root.path().join("palette.gif");
    let image = RgbImage::from_fn(4, 4, |x, _| {
        if x < 2 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    image.save(&gif).unwrap();
    let decoded = open_image(&gif).unwrap();
    assert_eq!(decoded.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(decoded.get_pixel(3, 3).0, [0, 0, 255]);
}

#[test]
fn truncated_jpeg_is_rejected() {
    let original = common::shared_dir().join("data/rps/train/rock/rock01-000.jpg");
    let bytes = std::fs::read(&original).unwrap();
    let root = tempfile::tempdir().unwrap();

    let complete = root.path().join("complete.jpg");
    std::fs::write(&complete, &bytes).unwrap();
    let image = open_image(&complete).unwrap();
    assert_eq!(image.dimensions(), (300, 300));

    let truncated = root.path().join("truncated.jpg");
    std::fs::write(&truncated, &bytes[..bytes.len() * 3 / 8]).unwrap();
    match open_image(&truncated) {
        Err(DataError::TruncatedJpeg { path }) => assert_eq!(path, truncated),
        other => panic!("expected TruncatedJpeg, got {other:?}"),
    }
}
