//! glibc's malloc set up for training: freed tensors stay in the heap for the next step.
//!
//! glibc serves every allocation above its largest mmap threshold (32 MiB on 64-bit) with a
//! fresh mapping and unmaps it when freed. So each training step faults in the pages of its
//! large activations and gradients again, and the kernel zeroes every page. Serving them from
//! the heap and not trimming it lets the next step reuse the same memory.
//!
//! The process keeps that memory until it exits. Blocks of changing sizes leave holes in the
//! heap, so the peak can rise too: on LibTorch in `f32` a ResNet34 step at batch 64 peaked
//! 17–31% higher, and on Flex no higher (development VM). Settings the user gave glibc,
//! through `GLIBC_TUNABLES` or a `MALLOC_` variable, are left alone.
//!
//! NOTE: threads other than the main one allocate from arenas made of 64 MiB heaps, and glibc
//! still maps a block that does not fit one. Burn and LibTorch allocate a layer's output on
//! the thread that runs it, which is the main one when `fit` is called from `main`.

/// Environment variable that, set to `0`, leaves glibc's malloc settings as they are.
pub const MALLOC_ENV: &str = "FASTBURN_MALLOC";

/// Stops glibc's malloc from returning large freed blocks to the operating system, once per
/// process, unless [`MALLOC_ENV`] is `0` or the environment already tunes glibc's malloc.
/// Called by [`crate::Learner::new`]. Does nothing on other C libraries.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let disabled = std::env::var(MALLOC_ENV).is_ok_and(|value| value.trim() == "0");
            let tuned_by_user = std::env::vars_os().any(|(name, value)| {
                let name = name.to_string_lossy();
                name.starts_with("MALLOC_")
                    || (name == "GLIBC_TUNABLES" && value.to_string_lossy().contains("malloc"))
            });
            if !disabled && !tuned_by_user {
                tune_glibc();
            }
        });
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_glibc() {
    // No mapping per large block, the heap's top trimmed only above 2 GiB free (mallopt takes
    // an `int`), and the heap grown in steps of 256 MiB. mallopt returns 0 when it rejects a
    // value, which leaves that default.
    let settings = [
        (libc::M_MMAP_MAX, 0),
        (libc::M_TRIM_THRESHOLD, i32::MAX),
        (libc::M_TOP_PAD, 256 << 20),
    ];
    for (parameter, value) in settings {
        // SAFETY: mallopt only changes malloc's tuning parameters, which glibc guards with
        // its own lock, and these values are within the documented ranges.
        if unsafe { libc::mallopt(parameter, value) } == 0 {
            log::debug!("glibc rejected mallopt({parameter}, {value})");
        }
    }
}
