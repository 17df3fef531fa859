//! Downloads behind the opt-in `network` feature: nothing is fetched in a default build.

use std::fs;
use std::io;
use std::path::Path;

use crate::rps_data::{RPS_TRAIN_URL, RPS_VALID_URL, RpsDataError, install_from_zips};

/// Downloads the notebook's two archives and lays them out in `dest` as `train/` and `valid/`.
pub fn download_rps(dest: &Path) -> Result<(), RpsDataError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|source| RpsDataError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let downloads = tempfile::tempdir_in(parent).map_err(|source| RpsDataError::Io {
        path: parent.to_path_buf(),
        source,
    })?;

    let train_zip = downloads.path().join("rps.zip");
    let valid_zip = downloads.path().join("rps-test-set.zip");
    download(RPS_TRAIN_URL, &train_zip)?;
    download(RPS_VALID_URL, &valid_zip)?;
    install_from_zips(&train_zip, &valid_zip, dest)
}

fn download(url: &str, path: &Path) -> Result<(), RpsDataError> {
    log::info!("downloading {url}");
    let download_error = |message: String| RpsDataError::Download {
        url: url.to_string(),
        message,
    };
    let response = ureq::get(url)
        .call()
        .map_err(|error| download_error(error.to_string()))?;
    let mut reader = response.into_body().into_reader();
    let mut file = fs::File::create(path).map_err(|source| RpsDataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    io::copy(&mut reader, &mut file).map_err(|error| download_error(error.to_string()))?;
    Ok(())
}
