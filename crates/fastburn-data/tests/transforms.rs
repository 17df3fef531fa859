//! Geometry and lighting of the augmentations, checked pixel by pixel.

use fastburn_data::transform::{Affine, Homography};
use fastburn_data::{FloatImage, GetTransformsConfig, Transform, apply_tfms, get_transforms};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Builds a `width x height` image of distinct pseudo-random samples.
fn random_image(width: usize, height: usize, seed: u64) -> FloatImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..3 * width * height)
        .map(|_| rng.random::<f32>())
        .collect();
    FloatImage {
        width,
        height,
        data,
    }
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

fn assert_close(actual: f32, expected: f32, tolerance: f32, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected}"
    );
}

fn assert_images_close(actual: &FloatImage, expected: &FloatImage, tolerance: f32) {
    assert_eq!(
        (actual.width, actual.height),
        (expected.width, expected.height)
    );
    for (index, (a, e)) in actual.data.iter().zip(&expected.data).enumerate() {
        assert_close(*a, *e, tolerance, &format!("sample {index}"));
    }
}

#[test]
fn flip_lr_mirrors_columns() {
    let input = random_image(7, 5, 1);
    let output = Transform::flip_lr(1.0).apply(&input, &mut rng());
    for channel in 0..3 {
        for y in 0..5 {
            for x in 0..7 {
                let mirrored = input.get(channel, y, 6 - x);
                assert_close(output.get(channel, y, x), mirrored, 1e-6, "flipped sample");
            }
        }
    }
}

#[test]
fn flip_lr_with_p_zero_is_identity() {
    let input = random_image(7, 5, 2);
    let output = Transform::flip_lr(0.0).apply(&input, &mut rng());
    assert_images_close(&output, &input, 1e-6);
}

#[test]
fn rotate_zero_is_identity() {
    let input = random_image(9, 6, 3);
    let output = Transform::rotate((0.0, 0.0), 1.0).apply(&input, &mut rng());
    assert_images_close(&output, &input, 1e-5);
}

#[test]
fn rotate_ninety_degrees_moves_pixels() {
    // Output point (x, y) samples input point (-y, x), so out[i][j] = in[j][n - 1 - i].
    let n = 6;
    let input = random_image(n, n, 4);
    let output = Transform::rotate((90.0, 90.0), 1.0).apply(&input, &mut rng());
    for channel in 0..3 {
        for i in 0..n {
            for j in 0..n {
                let expected = input.get(channel, j, n - 1 - i);
                assert_close(output.get(channel, i, j), expected, 1e-4, "rotated sample");
            }
        }
    }
}

#[test]
fn zoom_one_is_identity() {
    let input = random_image(8, 8, 5);
    let output = Transform::rand_zoom((1.0, 1.0), 1.0).apply(&input, &mut rng());
    assert_images_close(&output, &input, 1e-5);
}

#[test]
fn zoom_two_magnifies_centre() {
    // Output point x samples input point x / 2: on 5 pixels, columns 0, 2, 4 read 1, 2, 3.
    let input = random_image(5, 5, 6);
    let output = Transform::zoom((2.0, 2.0), 1.0).apply(&input, &mut rng());
    for channel in 0..3 {
        assert_close(
            output.get(channel, 0, 0),
            input.get(channel, 1, 1),
            1e-5,
            "corner",
        );
        assert_close(
            output.get(channel, 2, 2),
            input.get(channel, 2, 2),
            1e-5,
            "centre",
        );
        assert_close(
            output.get(channel, 4, 4),
            input.get(channel, 3, 3),
            1e-5,
            "corner",
        );
        let between = (input.get(channel, 1, 1) + input.get(channel, 1, 2)) / 2.0;
        assert_close(
            output.get(channel, 0, 1),
            between,
            1e-5,
            "bilinear midpoint",
        );
    }
}

#[test]
fn zoom_out_reflects_border() {
    // Scale 0.5 samples x * 2: column 0 reads pixel -2, reflected to 2; column 1 reads 0.
    let input = random_image(5, 5, 7);
    let output = Transform::zoom((0.5, 0.5), 1.0).apply(&input, &mut rng());
    for channel in 0..3 {
        assert_close(
            output.get(channel, 2, 0),
            input.get(channel, 2, 2),
            1e-5,
            "reflected",
        );
        assert_close(
            output.get(channel, 2, 1),
            input.get(channel, 2, 0),
            1e-5,
            "edge",
        );
    }
}

#[test]
fn symmetric_warp_zero_is_identity() {
    let input = random_image(7, 6, 8);
    let output = Transform::symmetric_warp((0.0, 0.0), 1.0).apply(&input, &mut rng());
    assert_images_close(&output, &input, 1e-5);
}

#[test]
fn symmetric_warp_maps_moved_corners_home() {
    let offsets = [0.1, -0.2, 0.15, 0.05];
    let warp = Homography::symmetric_warp(offsets);
    let m = offsets;
    let moved = [
        (-1.0 - m[3], -1.0 - m[1]),
        (-1.0 - m[2], 1.0 + m[1]),
        (1.0 + m[3], -1.0 - m[0]),
        (1.0 + m[2], 1.0 + m[0]),
    ];
    let corners = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
    for (point, corner) in moved.iter().zip(corners) {
        let (x, y) = warp.apply(point.0, point.1);
        assert_close(x, corner.0, 1e-5, "warped x");
        assert_close(y, corner.1, 1e-5, "warped y");
    }
}

#[test]
fn symmetric_warp_changes_pixels() {
    let input = random_image(16, 16, 9);
    let output = Transform::symmetric_warp((0.2, 0.2), 1.0).apply(&input, &mut rng());
    let changed = output
        .data
        .iter()
        .zip(&input.data)
        .filter(|(a, b)| (*a - *b).abs() > 1e-3)
        .count();
    assert!(
        changed > input.data.len() / 2,
        "only {changed} samples changed"
    );
}

#[test]
fn affine_matmul_applies_right_first() {
    let rotate = Affine::rotate(90.0);
    let flip = Affine::flip_lr();
    // flip · rotate maps (1, 0) to rotate: (0, 1), then flip: (0, 1).
    let (x, y) = flip.matmul(&rotate).apply(1.0, 0.0);
    assert_close(x, 0.0, 1e-6, "x");
    assert_close(y, 1.0, 1e-6, "y");
    // rotate · flip maps (1, 0) to flip: (-1, 0), then rotate: (0, -1).
    let (x, y) = rotate.matmul(&flip).apply(1.0, 0.0);
    assert_close(x, 0.0, 1e-6, "x");
    assert_close(y, -1.0, 1e-6, "y");
}

#[test]
fn neutral_lighting_is_identity() {
    let input = random_image(6, 4, 10);
    let tfms = [
        Transform::brightness((0.5, 0.5), 1.0),
        Transform::contrast((1.0, 1.0), 1.0),
    ];
    let output = apply_tfms(&tfms, &input, None, &mut rng());
    assert_images_close(&output, &input, 1e-5);
}

#[test]
fn brightness_and_contrast_values() {
    let gray = |value: f32| FloatImage {
        width: 1,
        height: 1,
        data: vec![value; 3],
    };

    // sigmoid(logit(0.5) + logit(0.7)) = 0.7.
    let brighter = Transform::brightness((0.7, 0.7), 1.0).apply(&gray(0.5), &mut rng());
    assert_close(brighter.data[0], 0.7, 1e-5, "brightness");

    // sigmoid(2 · logit(0.75)) = sigmoid(ln 9) = 0.9.
    let contrasted = Transform::contrast((2.0, 2.0), 1.0).apply(&gray(0.75), &mut rng());
    assert_close(contrasted.data[0], 0.9, 1e-5, "contrast");
}

#[test]
fn centre_crop_takes_middle_columns() {
    // An 8x4 image at size 4 needs no resizing; the centre crop starts at column 2.
    let input = random_image(8, 4, 11);
    let output = apply_tfms(&[Transform::crop_pad()], &input, Some(4), &mut rng());
    assert_eq!((output.width, output.height), (4, 4));
    for channel in 0..3 {
        for y in 0..4 {
            for x in 0..4 {
                let expected = input.get(channel, y, x + 2);
                assert_close(output.get(channel, y, x), expected, 1e-5, "cropped sample");
            }
        }
    }
}

#[test]
fn resize_halves_short_side() {
    // 9x9 to 5x5 with corner-aligned sampling reads every other input pixel exactly.
    let input = random_image(9, 9, 12);
    let output = apply_tfms(&[Transform::crop_pad()], &input, Some(5), &mut rng());
    for channel in 0..3 {
        for y in 0..5 {
            for x in 0..5 {
                let expected = input.get(channel, 2 * y, 2 * x);
                assert_close(output.get(channel, y, x), expected, 1e-5, "resized sample");
            }
        }
    }
}

#[test]
fn train_tfms_deterministic_and_in_range() {
    let input = random_image(20, 14, 13);
    let (train, valid) = get_transforms();
    assert_eq!(train.len(), 7);
    assert_eq!(valid, vec![Transform::crop_pad()]);

    let first = apply_tfms(&train, &input, Some(12), &mut ChaCha8Rng::seed_from_u64(3));
    let second = apply_tfms(&train, &input, Some(12), &mut ChaCha8Rng::seed_from_u64(3));
    let other = apply_tfms(&train, &input, Some(12), &mut ChaCha8Rng::seed_from_u64(4));
    assert_eq!(first, second);
    assert_ne!(first, other);
    assert_eq!((first.width, first.height), (12, 12));
    assert!(first.data.iter().all(|value| (0.0..=1.0).contains(value)));
}

#[test]
fn get_transforms_config_disables_parts() {
    let config = GetTransformsConfig::new()
        .with_do_flip(false)
        .with_max_warp(0.0)
        .with_max_lighting(0.0);
    let (train, _) = config.build();
    assert_eq!(
        train,
        vec![
            Transform::rand_crop(),
            Transform::rotate((-10.0, 10.0), 0.75),
            Transform::rand_zoom((1.0, 1.1), 0.75),
        ]
    );
}
