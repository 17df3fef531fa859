//! Finding the rock-paper-scissors images, or laying them out from the notebook's zips.
//!
//! The notebook downloads `rps.zip` (training images) and `rps-test-set.zip` (validation
//! images). Each contains one top folder with `paper/`, `rock/` and `scissors/`; fastburn lays
//! them out as `train/` and `valid/`, the layout `ImageDataBunch::from_folder` expects.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// URL of the training images the notebook downloads.
pub const RPS_TRAIN_URL: &str = "https://storage.googleapis.com/learning-datasets/rps.zip";

/// URL of the validation images the notebook downloads.
pub const RPS_VALID_URL: &str = "https://storage.googleapis.com/learning-datasets/rps-test-set.zip";

/// The classes the dataset must contain, as folder names.
pub const RPS_CLASSES: [&str; 3] = ["paper", "rock", "scissors"];

/// Error while locating or installing the dataset.
#[derive(Debug, thiserror::Error)]
pub enum RpsDataError {
    /// No copy was found and this build cannot download one.
    #[error(
        "the rock-paper-scissors images were not found (looked in: {searched}). Pass --data DIR \
         with a folder holding train/ and valid/, set FASTBURN_SHARED, or build with \
         `--features network` to download {RPS_TRAIN_URL} and {RPS_VALID_URL}"
    )]
    NotFound {
        /// The folders that were tried, comma-separated.
        searched: String,
    },
    /// A zip archive could not be read.
    #[error("cannot read zip archive {path}: {message}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// Description of the failure.
        message: String,
    },
    /// A zip entry's name would escape the destination folder.
    #[error("zip archive {path} has an unsafe entry name `{entry}`")]
    UnsafeEntry {
        /// The archive.
        path: PathBuf,
        /// The offending entry name.
        entry: String,
    },
    /// An archive lacks a class folder.
    #[error("zip archive {path} has no `{class}/` folder of images")]
    MissingClass {
        /// The archive.
        path: PathBuf,
        /// The missing class.
        class: String,
    },
    /// Reading or writing files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A download failed (only with the `network` feature).
    #[error("download of {url} failed: {message}")]
    Download {
        /// The URL.
        url: String,
        /// Description of the failure.
        message: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> RpsDataError + '_ {
    move |source| RpsDataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Returns the dataset folder: `explicit` if given, else `$FASTBURN_SHARED/data/rps` or
/// `../shared/data/rps` when they hold `train/` and `valid/`, else (with the `network`
/// feature) a download into the cache folder.
pub fn locate_rps(explicit: Option<&Path>) -> Result<PathBuf, RpsDataError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }

    let mut candidates = Vec::new();
    if let Some(shared) = std::env::var_os("FASTBURN_SHARED") {
        candidates.push(PathBuf::from(shared).join("data/rps"));
    }
    candidates.push(PathBuf::from("../shared/data/rps"));
    if let Some(found) = candidates.iter().find(|dir| is_rps_layout(dir)) {
        return Ok(found.clone());
    }

    #[cfg(feature = "network")]
    {
        let cache = cache_dir();
        if is_rps_layout(&cache) {
            return Ok(cache);
        }
        crate::download::download_rps(&cache)?;
        Ok(cache)
    }

    #[cfg(not(feature = "network"))]
    Err(RpsDataError::NotFound {
        searched: candidates
            .iter()
            .map(|dir| dir.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Returns the folder downloads go to: `$FASTBURN_CACHE/rps`, else `~/.cache/fastburn/rps`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("FASTBURN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/fastburn")))
        .unwrap_or_else(|| PathBuf::from(".fastburn-cache"));
    base.join("rps")
}

fn is_rps_layout(dir: &Path) -> bool {
    dir.join("train").is_dir() && dir.join("valid").is_dir()
}

/// Extracts the notebook's two archives into `dest/train` and `dest/valid`.
///
/// Each archive's class folders may sit at any depth (`rps/paper/…`); entries outside a class
/// folder, such as `__MACOSX/` metadata, are skipped. Extraction goes to a temporary folder
/// beside `dest` that is renamed at the end, so an interrupted run leaves no partial dataset.
pub fn install_from_zips(train_zip: &Path, valid_zip: &Path, dest: &Path) -> Result<(), RpsDataError> {
    let parent = dest.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_error(parent))?;
    let staging = tempfile::tempdir_in(parent).map_err(io_error(parent))?;

    extract_classes(train_zip, &staging.path().join("train"))?;
    extract_classes(valid_zip, &staging.path().join("valid"))?;

    let staged = staging.keep();
    fs::rename(&staged, dest).map_err(io_error(dest))?;
    Ok(())
}

/// Extracts the images under each class folder of `archive` into `dest/<class>/`.
fn extract_classes(archive: &Path, dest: &Path) -> Result<(), RpsDataError> {
    let zip_error = |message: String| RpsDataError::Zip {
        path: archive.to_path_buf(),
        message,
    };
    let file = fs::File::open(archive).map_err(io_error(archive))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|error| zip_error(error.to_string()))?;

    let mut found = [false; RPS_CLASSES.len()];
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).map_err(|error| zip_error(error.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map_err(|error| zip_error(error.to_string()))?
            .to_string();
        let relative = Path::new(&name);
        if relative
            .components()
            .any(|part| !matches!(part, Component::Normal(_)))
        {
            return Err(RpsDataError::UnsafeEntry {
                path: archive.to_path_buf(),
                entry: name,
            });
        }

        let parts: Vec<&str> = name.split('/').collect();
        let Some((file_name, folders)) = parts.split_last() else {
            continue;
        };
        let Some(class_index) = folders
            .last()
            .and_then(|folder| RPS_CLASSES.iter().position(|class| class == folder))
        else {
            continue;
        };
        if folders.iter().any(|folder| folder.starts_with("__MACOSX")) || file_name.starts_with('.') {
            continue;
        }

        found[class_index] = true;
        let class_dir = dest.join(RPS_CLASSES[class_index]);
        fs::create_dir_all(&class_dir).map_err(io_error(&class_dir))?;
        let target = class_dir.join(file_name);
        let mut out = fs::File::create(&target).map_err(io_error(&target))?;
        io::copy(&mut entry, &mut out).map_err(io_error(&target))?;
    }

    if let Some(missing) = found.iter().position(|present| !present) {
        return Err(RpsDataError::MissingClass {
            path: archive.to_path_buf(),
            class: RPS_CLASSES[missing].to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_zip(path: &Path, entries: &[(&str, &[u8])]) {
        let file = fs::File::create(path).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn installs_train_and_valid_layout() {
        let dir = tempfile::tempdir().unwrap();
        let train = dir.path().join("rps.zip");
        let valid = dir.path().join("rps-test-set.zip");
        write_zip(
            &train,
            &[
                ("rps/paper/p1.png", b"p"),
                ("rps/rock/r1.png", b"r"),
                ("rps/scissors/s1.png", b"s"),
                ("__MACOSX/rps/paper/._p1.png", b"x"),
            ],
        );
        write_zip(
            &valid,
            &[
                ("rps-test-set/paper/p2.png", b"p"),
                ("rps-test-set/rock/r2.png", b"r"),
                ("rps-test-set/scissors/s2.png", b"s"),
            ],
        );

        let dest = dir.path().join("data/rps");
        install_from_zips(&train, &valid, &dest).unwrap();

        assert_eq!(fs::read(dest.join("train/paper/p1.png")).unwrap(), b"p");
        assert_eq!(fs::read(dest.join("valid/scissors/s2.png")).unwrap(), b"s");
        assert_eq!(fs::read_dir(dest.join("train/paper")).unwrap().count(), 1);
        assert!(is_rps_layout(&dest));
    }

    #[test]
    fn rejects_path_traversal() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.zip");
        write_zip(&bad, &[("../../etc/paper/x.png", b"x")]);
        let error = extract_classes(&bad, &dir.path().join("out")).unwrap_err();
        assert!(matches!(error, RpsDataError::UnsafeEntry { .. }), "{error}");
    }

    #[test]
    fn missing_class_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("partial.zip");
        write_zip(&partial, &[("rps/paper/p.png", b"p"), ("rps/rock/r.png", b"r")]);
        let error = extract_classes(&partial, &dir.path().join("out")).unwrap_err();
        assert!(error.to_string().contains("scissors"), "{error}");
    }

    #[test]
    fn corrupt_archive_names_file() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.zip");
        fs::write(&junk, b"not a zip").unwrap();
        let error = extract_classes(&junk, &dir.path().join("out")).unwrap_err();
        assert!(error.to_string().contains("junk.zip"), "{error}");
    }

    #[test]
    fn explicit_path_wins() {
        let found = locate_rps(Some(Path::new("/some/where"))).unwrap();
        assert_eq!(found, PathBuf::from("/some/where"));
    }
}
