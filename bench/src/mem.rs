//! Heap accounting for the memory rows: the `cap` crate counts every allocation of this process
//! (so retained bytes are exactly what the caches keep, not the OS's view of the heap), and a
//! sampler thread records the highest level inside a window (the relist peak).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cap::Cap;

/// The process's allocator: the system allocator, counted.
#[global_allocator]
pub static ALLOC: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// Bytes allocated and not yet freed.
pub fn live() -> usize {
    ALLOC.allocated()
}

/// Samples [`live`] every 100 µs until stopped, keeping the maximum.
pub struct PeakSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakSampler {
    /// Starts sampling now.
    pub fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicUsize::new(live()));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(live(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        Self { stop, peak, thread: Some(thread) }
    }

    /// Stops and returns the highest level seen.
    pub fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed).max(live())
    }
}
