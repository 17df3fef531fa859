//! PNG files written by plot_confusion_matrix and plot_top_losses: they decode, have the grid's
//! size, and failures give typed errors without leaving files behind.

use std::path::{Path, PathBuf};

use fastburn_interpret::{ClassificationInterpretation, InterpretError, MAX_TOP_LOSSES_IMAGES, TOP_LOSSES_TILE_SIZE};
use image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};

/// Writes `n` small images in varied formats, sizes and colour types, as a dataset may hold.
fn write_images(directory: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let shade = (i * 40 % 256) as u8;
            match i % 3 {
                0 => {
                    let path = directory.join(format!("item{i}.png"));
                    RgbaImage::from_pixel(40, 30, Rgba([shade, 0, 255 - shade, 255])).save(&path).unwrap();
                    path
                }
                1 => {
                    let path = directory.join(format!("item{i}.jpg"));
                    RgbImage::from_pixel(24, 48, Rgb([0, shade, 0])).save(&path).unwrap();
                    path
                }
                _ => {
                    let path = directory.join(format!("item{i}.png"));
                    DynamicImage::ImageLuma8(image::GrayImage::from_pixel(16, 16, image::Luma([shade]))).save(&path).unwrap();
                    path
                }
            }
        })
        .collect()
}

/// Interpretation of `items` over three classes, with losses rising with the item index.
fn interpretation(items: Vec<PathBuf>) -> ClassificationInterpretation {
    let n = items.len();
    let classes = vec!["paper".to_string(), "rock".to_string(), "scissors".to_string()];
    let probs = (0..n).map(|i| if i % 2 == 0 { vec![0.7, 0.2, 0.1] } else { vec![0.1, 0.1, 0.8] }).collect();
    let targets = (0..n).map(|i| i % 3).collect();
    let losses = (0..n).map(|i| i as f32 * 0.25).collect();
    ClassificationInterpretation::new(classes, items, probs, targets, losses).unwrap()
}

/// Names of the files in `directory`, sorted.
fn file_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(directory).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn top_losses_png_has_grid_size() {
    let images = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let interpretation = interpretation(write_images(images.path(), 7));

    // k = 5 is laid out as fastai does: 3 columns, 2 rows.
    let path = output.path().join("top_losses.png");
    interpretation.plot_top_losses(5, &path).unwrap();
    let picture = image::open(&path).unwrap();
    assert!(picture.width() >= 3 * TOP_LOSSES_TILE_SIZE, "width {}", picture.width());
    assert!(picture.width() < 4 * TOP_LOSSES_TILE_SIZE, "width {}", picture.width());
    assert!(picture.height() >= 2 * TOP_LOSSES_TILE_SIZE, "height {}", picture.height());
    assert!(picture.height() < 3 * TOP_LOSSES_TILE_SIZE, "height {}", picture.height());

    // Only the PNG is left: the temporary file was renamed into place.
    assert_eq!(file_names(output.path()), vec!["top_losses.png".to_string()]);
}

#[test]
fn top_losses_k_beyond_items_plots_all() {
    let images = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let interpretation = interpretation(write_images(images.path(), 4));

    let all = output.path().join("all.png");
    let capped = output.path().join("capped.png");
    interpretation.plot_top_losses(4, &all).unwrap();
    interpretation.plot_top_losses(40, &capped).unwrap();
    assert_eq!(image::open(&all).unwrap().to_rgb8(), image::open(&capped).unwrap().to_rgb8());
}

#[test]
fn top_losses_rejects_empty_requests() {
    let images = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let path = output.path().join("top_losses.png");

    let result = interpretation(write_images(images.path(), 3)).plot_top_losses(0, &path);
    assert!(matches!(result, Err(InterpretError::NothingToPlot { .. })), "{result:?}");

    let result = interpretation(Vec::new()).plot_top_losses(9, &path);
    assert!(matches!(result, Err(InterpretError::NothingToPlot { .. })), "{result:?}");
    assert!(file_names(output.path()).is_empty());
}

#[test]
fn top_losses_rejects_too_many_images() {
    // The images are never opened: the count is checked first.
    let items = (0..MAX_TOP_LOSSES_IMAGES + 1).map(|i| PathBuf::from(format!("missing{i}.png"))).collect();
    let output = tempfile::tempdir().unwrap();
    let result = interpretation(items).plot_top_losses(MAX_TOP_LOSSES_IMAGES + 1, output.path().join("x.png"));
    match result {
        Err(InterpretError::TooManyImages { requested, max }) => {
            assert_eq!(requested, MAX_TOP_LOSSES_IMAGES + 1);
            assert_eq!(max, MAX_TOP_LOSSES_IMAGES);
        }
        other => panic!("expected TooManyImages, got {other:?}"),
    }
}

#[test]
fn top_losses_missing_image_names_file() {
    let images = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let mut items = write_images(images.path(), 3);
    let missing = images.path().join("deleted.png");
    items[2] = missing.clone(); // largest loss, so it is opened first

    let path = output.path().join("top_losses.png");
    let result = interpretation(items).plot_top_losses(3, &path);
    match result {
        Err(InterpretError::OpenImage { path: failed, .. }) => assert_eq!(failed, missing),
        other => panic!("expected OpenImage, got {other:?}"),
    }
    assert!(file_names(output.path()).is_empty(), "no file may be written after a failure");
}

#[test]
fn top_losses_corrupt_image_names_file() {
    let images = tempfile::tempdir().unwrap();
    let output = tempfile::tempdir().unwrap();
    let corrupt = images.path().join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really a png").unwrap();

    let result = interpretation(vec![corrupt.clone()]).plot_top_losses(1, output.path().join("top_losses.png"));
    match result {
        Err(error @ InterpretError::OpenImage { .. }) => {
            assert!(error.to_string().contains("corrupt.png"), "{error}");
        }
        other => panic!("expected OpenImage, got {other:?}"),
    }
}

#[test]
fn confusion_png_decodes_and_replaces() {
    let output = tempfile::tempdir().unwrap();
    let path = output.path().join("confusion_matrix.png");
    std::fs::write(&path, b"stale").unwrap();

    let items = (0..6).map(|i| PathBuf::from(format!("item{i}.png"))).collect();
    interpretation(items).plot_confusion_matrix(&path).unwrap();

    let picture = image::open(&path).unwrap();
    // Three 160-pixel cells plus labels and margins.
    assert!(picture.width() > 480, "width {}", picture.width());
    assert!(picture.width() < 900, "width {}", picture.width());
    assert!(picture.height() > 480, "height {}", picture.height());
    assert!(picture.height() < 900, "height {}", picture.height());
    assert_eq!(file_names(output.path()), vec!["confusion_matrix.png".to_string()]);
}

#[test]
fn confusion_png_many_classes() {
    let classes: Vec<String> = (0..300).map(|i| format!("class{i}")).collect();
    let probs = (0..300).map(|i| (0..300).map(|j| if i == j { 1.0 } else { 0.0 }).collect()).collect();
    let items = (0..300).map(|i| PathBuf::from(format!("item{i}.png"))).collect();
    let interpretation =
        ClassificationInterpretation::new(classes, items, probs, (0..300).collect(), vec![0.0; 300]).unwrap();

    let output = tempfile::tempdir().unwrap();
    let path = output.path().join("confusion_matrix.png");
    interpretation.plot_confusion_matrix(&path).unwrap();
    let picture = image::open(&path).unwrap();
    // 300 cells at the minimum of 4 pixels, plus labels.
    assert!(picture.width() >= 1200, "width {}", picture.width());
    assert!(picture.width() < 2000, "width {}", picture.width());
}

#[test]
fn plot_into_missing_directory_fails() {
    let output = tempfile::tempdir().unwrap();
    let path = output.path().join("no_such_directory").join("confusion_matrix.png");
    let items = (0..2).map(|i| PathBuf::from(format!("item{i}.png"))).collect();
    let result = interpretation(items).plot_confusion_matrix(&path);
    match result {
        Err(InterpretError::Write { path: failed, .. }) => assert_eq!(failed, path),
        other => panic!("expected Write, got {other:?}"),
    }
}
