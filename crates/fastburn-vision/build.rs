//! With the `tch` feature, compiles `src/libtorch/vjp.cpp`, the one LibTorch call fastburn
//! needs that tch 0.22 does not bind. Without it there is nothing to build.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "tch")]
    libtorch::compile();
}

#[cfg(feature = "tch")]
mod libtorch {
    use std::env;
    use std::path::PathBuf;
    use std::process::Command;

    const SOURCE: &str = "src/libtorch/vjp.cpp";

    /// Compiles the shim against the LibTorch that torch-sys found and links, with the same
    /// C++ ABI, so both halves agree on the layout of every standard-library type.
    pub fn compile() {
        println!("cargo:rerun-if-changed={SOURCE}");
        for name in [
            "LIBTORCH_USE_PYTORCH",
            "LIBTORCH_CXX11_ABI",
            "LIBTORCH_INCLUDE",
            "VIRTUAL_ENV",
        ] {
            println!("cargo:rerun-if-env-changed={name}");
        }

        // torch-sys (`links = "tch"`) reports to its dependents where LibTorch's libraries are, on
        // Linux and macOS only. The headers sit beside them in both a LibTorch archive and a
        // PyTorch wheel, unless LIBTORCH_INCLUDE points elsewhere, which torch-sys honours
        // when it does not link a Python install.
        let Some(lib) = env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from) else {
            panic!(
                "torch-sys did not report LibTorch's library folder (DEP_TCH_LIBTORCH_LIB), \
                 which it does on Linux and macOS only: fastburn's `tch` feature needs one of \
                 those"
            );
        };
        let from_python = env::var_os("LIBTORCH_USE_PYTORCH").is_some();
        let root = match env::var_os("LIBTORCH_INCLUDE").filter(|_| !from_python) {
            Some(include) => PathBuf::from(include),
            None => lib
                .parent()
                .expect("LibTorch's library folder has a parent")
                .to_path_buf(),
        };
        let include = root.join("include");

        cc::Build::new()
            .cpp(true)
            .pic(true)
            .warnings(false)
            .std("c++17")
            .include(&include)
            .include(include.join("torch/csrc/api/include"))
            .define("_GLIBCXX_USE_CXX11_ABI", cxx11_abi(from_python).as_str())
            .define("GLOG_USE_GLOG_EXPORT", None)
            .file(SOURCE)
            .compile("fastburn_vjp");
    }

    /// Returns the C++ ABI torch-sys 0.22 compiles with: PyTorch's own when it links a
    /// Python install (`from_python`), otherwise `LIBTORCH_CXX11_ABI`, by default 1.
    fn cxx11_abi(from_python: bool) -> String {
        if !from_python {
            return env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_owned());
        }
        let python = match env::var_os("VIRTUAL_ENV") {
            Some(_) => "python",
            None => "python3",
        };
        let output = Command::new(python)
            .args([
                "-c",
                "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))",
            ])
            .output()
            .unwrap_or_else(|error| {
                panic!("failed to run {python} to read PyTorch's C++ ABI: {error}")
            });
        // `import torch` may print lines of its own before the ABI.
        let stdout = String::from_utf8_lossy(&output.stdout);
        let abi = stdout.lines().last().unwrap_or("").trim().to_owned();
        assert!(
            abi == "0" || abi == "1",
            "{python} did not report PyTorch's C++ ABI: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        abi
    }
}
