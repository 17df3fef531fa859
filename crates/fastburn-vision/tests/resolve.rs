//! Finding pretrained weight files. One test, because it sets environment variables that
//! every lookup reads.

use std::path::PathBuf;

use fastburn_vision::weights::WeightsError;
use fastburn_vision::{Arch, resolve_weights};

#[test]
#[cfg_attr(
    feature = "network",
    ignore = "with the network feature, a cache miss downloads instead of failing"
)]
fn resolve_weights_search_order() {
    let dir = tempfile::tempdir().unwrap();
    let torch_home = dir.path().join("torch");
    let checkpoints = torch_home.join("hub/checkpoints");
    std::fs::create_dir_all(&checkpoints).unwrap();

    // SAFETY: this test binary has a single test, so no other thread reads the environment.
    unsafe {
        std::env::remove_var("FASTBURN_WEIGHTS");
        std::env::set_var("TORCH_HOME", &torch_home);
    }

    // Nothing on disk: the error names the file, its URL and where to put it.
    let err = resolve_weights(Arch::ResNet34, None).unwrap_err();
    let WeightsError::NotFound {
        file_name,
        url,
        hub_dir,
        ..
    } = &err
    else {
        panic!("expected NotFound, got {err}");
    };
    assert_eq!(file_name, "resnet34-b627a593.pth");
    assert_eq!(
        url,
        "https://download.pytorch.org/models/resnet34-b627a593.pth"
    );
    assert_eq!(hub_dir, &checkpoints);
    assert!(err.to_string().contains("resnet34-b627a593.pth"), "{err}");

    // The old torchvision name in the hub cache is found.
    let old = checkpoints.join("resnet34-333f7ec4.pth");
    std::fs::write(&old, b"x").unwrap();
    assert_eq!(resolve_weights(Arch::ResNet34, None).unwrap(), old);

    // $FASTBURN_WEIGHTS pointing at a file wins over the cache.
    let own = dir.path().join("mine.pth");
    std::fs::write(&own, b"x").unwrap();
    unsafe { std::env::set_var("FASTBURN_WEIGHTS", &own) };
    assert_eq!(resolve_weights(Arch::ResNet34, None).unwrap(), own);

    // An explicit path wins over everything, and must exist.
    let explicit = dir.path().join("explicit.pth");
    std::fs::write(&explicit, b"x").unwrap();
    assert_eq!(
        resolve_weights(Arch::ResNet34, Some(&explicit)).unwrap(),
        explicit
    );
    let missing = PathBuf::from("/nonexistent/resnet34.pth");
    let err = resolve_weights(Arch::ResNet34, Some(&missing)).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err}");
}
