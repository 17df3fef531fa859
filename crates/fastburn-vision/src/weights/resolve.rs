//! Finding a pretrained weight file on disk.

use std::path::{Path, PathBuf};

use super::error::WeightsError;
use crate::arch::Arch;

/// Finds `arch`'s pretrained weights, trying in order:
///
/// 1. `explicit`, which must exist;
/// 2. `$FASTBURN_WEIGHTS`: the file itself, or a directory holding torchvision's file name;
/// 3. the PyTorch hub cache, `$TORCH_HOME/hub/checkpoints` (default
///    `$XDG_CACHE_HOME/torch` or `~/.cache/torch`), under torchvision's file names;
/// 4. with the `network` feature only, a download from torchvision into that cache,
///    checked against the SHA-256 prefix in the file name.
///
/// # Errors
///
/// [`WeightsError::Io`] when `explicit` does not exist, and [`WeightsError::NotFound`]
/// naming the file, its URL and the hub directory when nothing else is found, or
/// [`WeightsError::Download`] when the `network` feature is on and the download fails.
pub fn resolve_weights(arch: Arch, explicit: Option<&Path>) -> Result<PathBuf, WeightsError> {
    if let Some(path) = explicit {
        return match path.is_file() {
            true => Ok(path.to_path_buf()),
            false => Err(WeightsError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            }),
        };
    }

    let mut searched = Vec::new();

    if let Some(env) = std::env::var_os("FASTBURN_WEIGHTS").map(PathBuf::from) {
        if env.is_file() {
            return Ok(env);
        }
        if let Some(found) = find_in(&env, arch) {
            return Ok(found);
        }
        if !env.exists() {
            log::warn!(
                "$FASTBURN_WEIGHTS is {}, which does not exist; looking in the PyTorch hub cache",
                env.display()
            );
        }
        searched.push(format!("$FASTBURN_WEIGHTS={}", env.display()));
    }

    let hub_dir = hub_checkpoints_dir();
    if let Some(found) = find_in(&hub_dir, arch) {
        return Ok(found);
    }
    searched.push(hub_dir.display().to_string());

    not_found(arch, hub_dir, searched)
}

/// Downloads the weights into `hub_dir` (feature `network`).
#[cfg(feature = "network")]
fn not_found(
    arch: Arch,
    hub_dir: PathBuf,
    _searched: Vec<String>,
) -> Result<PathBuf, WeightsError> {
    super::download::download(&arch.weight_url(), &hub_dir, arch.weight_file_names()[0])
}

/// Returns the error naming the file needed, its URL and where to put it.
#[cfg(not(feature = "network"))]
fn not_found(arch: Arch, hub_dir: PathBuf, searched: Vec<String>) -> Result<PathBuf, WeightsError> {
    Err(WeightsError::NotFound {
        file_name: arch.weight_file_names()[0].to_string(),
        url: arch.weight_url(),
        hub_dir,
        searched: searched.join(", "),
    })
}

/// PyTorch's hub checkpoint directory, computed as `torch.hub.get_dir()` does.
pub fn hub_checkpoints_dir() -> PathBuf {
    let torch_home = std::env::var_os("TORCH_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|cache| PathBuf::from(cache).join("torch"))
        })
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/torch")))
        .unwrap_or_else(|| PathBuf::from(".cache/torch"));
    torch_home.join("hub").join("checkpoints")
}

fn find_in(dir: &Path, arch: Arch) -> Option<PathBuf> {
    arch.weight_file_names()
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}
