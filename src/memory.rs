//! Keeps the pull's resident memory flat over long runs.
//!
//! A pull's live data is bounded (a window's pages and dedupe keys), but glibc's allocator
//! keeps the pages of freed chunks resident, and as page bodies of varying size come and go
//! the heap's touched high-water mark creeps up with the length of the run: a 200,000-order
//! pull ended a few MB above a 10,000-order one with the same live data. Asking the allocator
//! to return its free pages at each window border keeps resident memory close to live data.
//! Other allocators (and platforms) return memory on their own terms; there this is a no-op.

/// Return the allocator's free pages to the operating system. Costs a walk over the heap's
/// free lists (well under a millisecond here), so call it at coarse points such as window ends.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim only inspects and releases the allocator's own free memory; it is
    // thread-safe and has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}
