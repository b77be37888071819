//! Memory beyond what Rust says: handing freed memory back to the system once a snapshot is
//! built, and asking the CPU ahead for memory about to be read ([`prefetch`]).
//!
//! A build reads the whole atlas into plain data, builds the snapshot from it and drops it:
//! at city scale about a gigabyte freed at once, on threads that then sit idle. The allocator
//! keeps such pages mapped until told otherwise. Which allocator runs is the binary's choice,
//! so the binary registers how to release (with mimalloc: `mi_collect(true)`, which brought
//! the resident size after a 1M-building build from 2.9 GB to 2.2 GB); without a
//! registration this does nothing.

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Registers how to hand free memory back; the first registration wins.
pub fn set_release(release: fn()) {
    let _ = RELEASE.set(release);
}

/// Hands free memory back, when the binary said how. Called on the thread that dropped the
/// build's input, right after the build.
pub fn release() {
    if let Some(release) = RELEASE.get() {
        release();
    }
}

/// Asks the CPU to start loading the cache line holding `p`, without waiting for it: an
/// answer at city scale reads a few dozen scattered lines (rows, texts, people), and asking
/// for the next ones before the geometry work lets their misses overlap with it. A hint only:
/// it never faults, whatever `p` points to, and does nothing off x86-64.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint: it reads no value into the program, never faults (not even
    // on an invalid address) and needs only SSE, which every x86-64 CPU has.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn release_runs_the_registered_function() {
        let before = CALLS.load(Ordering::SeqCst);
        super::set_release(count);
        super::release();
        assert_eq!(CALLS.load(Ordering::SeqCst), before + 1);
    }
}
