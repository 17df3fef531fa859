//! Choosing the device a learner trains on, among the backends compiled in.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A compute backend, as named on the command line (`--device flex`).
///
/// Each variant exists only when its cargo feature is enabled, so a binary
/// never offers a backend it cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (feature `flex`, the default).
    #[cfg(feature = "flex")]
    Flex,
    /// LibTorch on the CPU (feature `tch`).
    #[cfg(feature = "tch")]
    TchCpu,
    /// LibTorch on the first CUDA GPU (feature `tch`).
    #[cfg(feature = "tch")]
    TchCuda,
    /// The best GPU wgpu finds: Vulkan, Metal or DirectX (feature `wgpu`).
    #[cfg(feature = "wgpu")]
    Wgpu,
    /// CubeCL CUDA on the first GPU (feature `cuda`).
    #[cfg(feature = "cuda")]
    Cuda,
}

/// Error for a backend name that is unknown or not compiled into this build.
#[derive(Debug, thiserror::Error)]
#[error("unknown or disabled backend `{name}`: this build offers {available}")]
pub struct UnknownBackend {
    /// The name that was requested.
    pub name: String,
    /// The names this build accepts, comma-separated.
    pub available: String,
}

impl BackendKind {
    /// Lists every backend compiled into this build, the default first.
    pub fn available() -> Vec<BackendKind> {
        vec![
            #[cfg(feature = "flex")]
            BackendKind::Flex,
            #[cfg(feature = "tch")]
            BackendKind::TchCpu,
            #[cfg(feature = "tch")]
            BackendKind::TchCuda,
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu,
            #[cfg(feature = "cuda")]
            BackendKind::Cuda,
        ]
    }

    /// Returns the command-line name of the backend.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "flex")]
            BackendKind::Flex => "flex",
            #[cfg(feature = "tch")]
            BackendKind::TchCpu => "tch-cpu",
            #[cfg(feature = "tch")]
            BackendKind::TchCuda => "tch-cuda",
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => "wgpu",
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => "cuda",
        }
    }

    /// Creates the inference device of this backend (no autodiff).
    ///
    /// Training wraps it with [`Device::autodiff`]; the learner does that itself.
    pub fn device(self) -> Device {
        match self {
            #[cfg(feature = "flex")]
            BackendKind::Flex => Device::flex(),
            // Burn 0.22.1 marks burn-tch deprecated in favour of CubeCL, but LibTorch is still
            // the way to PyTorch's own CPU and CUDA kernels, so fastburn keeps offering it.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            BackendKind::TchCpu => Device::libtorch(),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            BackendKind::TchCuda => Device::libtorch_cuda(0usize),
            #[cfg(feature = "wgpu")]
            BackendKind::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            #[cfg(feature = "cuda")]
            BackendKind::Cuda => Device::cuda(0usize),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = UnknownBackend;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let available = BackendKind::available();
        available
            .iter()
            .copied()
            .find(|kind| kind.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownBackend {
                name: name.to_string(),
                available: available
                    .iter()
                    .map(|kind| kind.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    #[test]
    fn parses_flex_by_name() {
        assert_eq!("flex".parse::<BackendKind>().unwrap(), BackendKind::Flex);
        assert_eq!("FLEX".parse::<BackendKind>().unwrap(), BackendKind::Flex);
    }

    #[test]
    fn rejects_unknown_backend() {
        let error = "quantum".parse::<BackendKind>().unwrap_err();
        assert_eq!(error.name, "quantum");
        assert!(error.available.contains("flex"), "{}", error.available);
    }

    #[test]
    fn default_comes_first() {
        assert_eq!(BackendKind::available()[0], BackendKind::Flex);
    }

    /// The member crates' tests create their tensors on `Device::default()`, so with LibTorch
    /// compiled in (`--features tch`) the whole test suite runs on it.
    #[cfg(feature = "tch")]
    #[test]
    fn default_device_is_libtorch_with_tch() {
        let name = format!("{:?}", Device::default());
        assert!(name.contains("LibTorch"), "the default device is {name}");
    }
}
