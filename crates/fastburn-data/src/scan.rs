//! Scanning a folder laid out one subfolder of images per class.

use std::path::{Path, PathBuf};

use crate::DataError;

/// The folder inside the dataset folder where a learner saves its weights, as fastai's
/// `model_dir`. Without images in it, it is not taken for a class.
pub const MODEL_DIR: &str = "models";

/// File extensions recognised as images, compared case-insensitively.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"];

/// One labelled image of a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The image file.
    pub path: PathBuf,
    /// The index of its class in [`crate::ImageDataBunch::classes`].
    pub label: usize,
}

/// Returns whether `path` has an image extension and is not a hidden file.
///
/// Hidden files are skipped because macOS writes `._name.jpg` metadata files beside images.
pub fn is_image_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'));
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(|extension| extension.to_ascii_lowercase());
    !hidden && extension.is_some_and(|extension| IMAGE_EXTENSIONS.contains(&extension.as_str()))
}

/// A class subfolder and the image files found in it.
#[derive(Debug)]
pub(crate) struct ClassFolder {
    pub name: String,
    pub path: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Scans `dir` for class subfolders, sorted by name, each with its image files sorted by path.
///
/// Image files are found recursively inside each class folder, and other files are ignored.
/// Symbolic links to folders inside a class folder are not followed, because they can loop or
/// pull in another class's images. Fails when a class folder has no images, or when there is
/// no class folder at all.
pub(crate) fn scan_classes(dir: &Path) -> Result<Vec<ClassFolder>, DataError> {
    let mut classes = Vec::new();
    for entry in read_dir_sorted(dir)? {
        let Some(file_name) = entry.file_name() else {
            continue;
        };
        let name = file_name.to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }

        if entry.is_dir() {
            let mut files = Vec::new();
            collect_images(&entry, &mut files)?;
            if files.is_empty() && name == MODEL_DIR {
                continue;
            }
            if files.is_empty() {
                return Err(DataError::EmptyClass { path: entry });
            }
            if let Some(same) = classes
                .iter()
                .find(|class: &&ClassFolder| class.name == name)
            {
                return Err(DataError::DuplicateClass {
                    class: name,
                    first: same.path.clone(),
                    second: entry,
                });
            }
            if file_name.to_str().is_none() {
                log::warn!(
                    "class folder name {} is not valid UTF-8: the class is named {name:?}",
                    entry.display()
                );
            }
            classes.push(ClassFolder {
                name,
                path: entry,
                files,
            });
        } else if is_image_file(&entry) {
            log::warn!(
                "ignoring {}: images must sit in a class subfolder",
                entry.display()
            );
        }
    }

    if classes.is_empty() {
        return Err(DataError::NoImages {
            path: dir.to_path_buf(),
        });
    }
    Ok(classes)
}

fn collect_images(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), DataError> {
    for entry in read_dir_sorted(dir)? {
        // A file that vanished since the listing is no link, and the image check reports it.
        let link = std::fs::symlink_metadata(&entry).is_ok_and(|metadata| metadata.is_symlink());
        if entry.is_dir() && link {
            log::warn!(
                "not following {}: a symbolic link to a folder",
                entry.display()
            );
        } else if entry.is_dir() {
            collect_images(&entry, files)?;
        } else if is_image_file(&entry) {
            files.push(entry);
        }
    }
    Ok(())
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::io(dir, source))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DataError::io(dir, source))?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}
