//! Which folders and files `from_folder` takes as classes and images.

mod common;

use common::{make_dataset, write_solid_png};
use fastburn_data::ImageDataBunch;

#[test]
fn models_folder_is_not_a_class() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("all", 4)]);
    let models = root.path().join("all/models");
    std::fs::create_dir(&models).unwrap();
    std::fs::write(models.join("stage-1.safetensors"), b"weights").unwrap();

    let data = ImageDataBunch::from_folder(root.path())
        .train("all")
        .valid_pct(0.25)
        .build()
        .unwrap();
    assert_eq!(data.classes(), ["a", "b"]);
    assert_eq!(data.train_len() + data.valid_len(), 8);
}

#[cfg(unix)]
#[test]
fn linked_folders_not_followed() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 3), ("valid", 2)]);
    let class = root.path().join("train/a");
    std::os::unix::fs::symlink("..", class.join("parent")).unwrap();
    std::os::unix::fs::symlink(".", class.join("itself")).unwrap();

    let data = ImageDataBunch::from_folder(root.path()).build().unwrap();
    assert_eq!(data.train_len(), 6);
    assert!(
        data.train_items()
            .iter()
            .all(|item| item.path.parent().unwrap() != class.join("parent"))
    );
}

#[cfg(unix)]
#[test]
fn non_utf8_class_name_kept() {
    use std::os::unix::ffi::OsStrExt;

    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 2), ("valid", 1)]);
    let name = std::ffi::OsStr::from_bytes(b"cl\xffass");
    for (split, count) in [("train", 2), ("valid", 1)] {
        let folder = root.path().join(split).join(name);
        std::fs::create_dir(&folder).unwrap();
        for index in 0..count {
            write_solid_png(&folder.join(format!("{index}.png")), 4, 4, [9, 9, 9]);
        }
    }

    let data = ImageDataBunch::from_folder(root.path()).build().unwrap();
    assert_eq!(data.classes(), ["a", "cl\u{fffd}ass"]);
    assert_eq!(data.train_len(), 4);
    assert_eq!(data.valid_len(), 2);
}

#[cfg(unix)]
#[test]
fn lossy_duplicate_class_rejected() {
    use std::os::unix::ffi::OsStrExt;

    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 1), ("valid", 1)]);
    for name in [&b"cl\xfeass"[..], &b"cl\xffass"[..]] {
        let folder = root
            .path()
            .join("train")
            .join(std::ffi::OsStr::from_bytes(name));
        std::fs::create_dir(&folder).unwrap();
        write_solid_png(&folder.join("0.png"), 4, 4, [9, 9, 9]);
    }

    let error = ImageDataBunch::from_folder(root.path())
        .build()
        .unwrap_err();
    assert!(
        matches!(error, fastburn_data::DataError::DuplicateClass { .. }),
        "{error:?}"
    );
}
