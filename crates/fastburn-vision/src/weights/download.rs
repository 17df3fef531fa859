//! Downloading weight files (feature `network`), checked against the SHA-256 prefix that
//! torchvision puts in its file names.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::WeightsError;

/// Connect timeout. The body has none, because a 350 MB checkpoint on a slow link can take
/// many minutes.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Returns the hash prefix of a torchvision file name: `b627a593` for
/// `resnet34-b627a593.pth`, or `None` when the name has no such part.
pub fn hash_prefix(file_name: &str) -> Option<&str> {
    let stem = file_name
        .strip_suffix(".pth")
        .or_else(|| file_name.strip_suffix(".pt"))?;
    let (_, prefix) = stem.rsplit_once('-')?;
    let is_hex = prefix.len() >= 6 && prefix.chars().all(|c| c.is_ascii_hexdigit());
    is_hex.then_some(prefix)
}

/// Downloads `url` into `dir/file_name` and returns that path.
///
/// The bytes go to a temporary file in `dir`, renamed into place only once the download is
/// complete. When `file_name` carries a hash prefix, the SHA-256 must also match it. So an
/// interrupted or corrupt download never leaves a file that looks valid.
pub fn download(url: &str, dir: &Path, file_name: &str) -> Result<PathBuf, WeightsError> {
    let failed = |message: String| WeightsError::Download {
        url: url.to_string(),
        message,
    };

    std::fs::create_dir_all(dir)
        .map_err(|err| failed(format!("cannot create {}: {err}", dir.display())))?;
    let target = dir.join(file_name);
    let partial = dir.join(format!(".{file_name}.partial"));

    log::info!("downloading {url} to {}", target.display());
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build(),
    );
    let response = agent
        .get(url)
        .call()
        .map_err(|err| failed(err.to_string()))?;
    let mut body = response.into_body().into_reader();

    let hash = copy_hashing(&mut body, &partial).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    });
    let hash =
        hash.map_err(|err| failed(format!("failed to write {}: {err}", partial.display())))?;

    if let Some(prefix) = hash_prefix(file_name)
        && !hash.starts_with(&prefix.to_ascii_lowercase())
    {
        let _ = std::fs::remove_file(&partial);
        return Err(failed(format!(
            "SHA-256 {hash} does not start with {prefix} from the file name: the download is \
             corrupt or not the expected file"
        )));
    }

    std::fs::rename(&partial, &target).map_err(|err| {
        failed(format!(
            "failed to move the download to {}: {err}",
            target.display()
        ))
    })?;
    Ok(target)
}

/// Copies `reader` into a new file at `path`, returning the hex SHA-256 of the bytes.
fn copy_hashing(reader: &mut impl Read, path: &Path) -> std::io::Result<String> {
    let mut file = File::create(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];

    loop {
        let read = reader.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        file.write_all(&buffer[..read])?;
    }

    file.sync_all()?;
    let digest = hasher.finalize();
    Ok(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}
