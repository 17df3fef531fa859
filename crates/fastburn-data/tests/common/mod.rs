//! Helpers shared by the integration tests: generated datasets and the shared data folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// Returns the shared data folder: `$FASTBURN_SHARED`, or `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("FASTBURN_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    assert!(
        dir.join("data/rps").is_dir(),
        "shared data not found at {}: set FASTBURN_SHARED to the folder that holds data/rps",
        dir.display()
    );
    dir
}

/// Writes a `width x height` PNG filled with `color`.
pub fn write_solid_png(path: &Path, width: u32, height: u32, color: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(width, height, Rgb(color))
        .save(path)
        .unwrap();
}

/// Returns the colour of image `index` of class `label` in [`make_dataset`], unique per image.
pub fn dataset_color(label: usize, index: usize) -> [u8; 3] {
    [(label * 100 + 20) as u8, (index * 10) as u8, 200]
}

/// Creates `root/<split>/<class>/<index>.png` for each `(split, class, count)`, 12x10 solid
/// images coloured by [`dataset_color`] (label = position of the class in `classes`).
pub fn make_dataset(root: &Path, classes: &[&str], layout: &[(&str, usize)]) {
    for &(split, count) in layout {
        for (label, class) in classes.iter().enumerate() {
            for index in 0..count {
                let path = root.join(split).join(class).join(format!("{index:03}.png"));
                write_solid_png(&path, 12, 10, dataset_color(label, index));
            }
        }
    }
}

/// Reads a float tensor's values.
pub fn values<const D: usize>(tensor: burn::tensor::Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

/// Reads an integer tensor's values.
pub fn int_values(tensor: burn::tensor::Tensor<1, burn::tensor::Int>) -> Vec<i64> {
    tensor
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap()
}
