//! `keep_freed_memory`: large blocks come from the heap instead of mappings of their own.
#![cfg(all(target_os = "linux", target_env = "gnu"))]

#[test]
fn large_blocks_not_mapped() {
    fastburn_learner::keep_freed_memory();
    // mallinfo rather than mallinfo2, which needs glibc 2.33. Its counts are `int`s, enough
    // for the number of mapped blocks.
    // SAFETY: mallinfo only reads malloc's statistics.
    let mapped = || unsafe { libc::mallinfo() }.hblks;

    // The block is above glibc's largest mmap threshold (32 MiB). It is also below 64 MiB, the
    // heap size of the arenas of threads other than the main one, such as this test's. There
    // larger blocks still get a mapping, because glibc falls back to mmap when a heap is full.
    let before = mapped();
    let block = vec![1u8; 40 << 20];
    assert_eq!(
        mapped(),
        before,
        "the 40 MiB block got a mapping of its own"
    );
    assert_eq!(block[block.len() - 1], 1);
}
