//! The test binary's global allocator: it counts live heap bytes and their
//! peak, both per thread (for a test that measures its own work while other
//! tests run in parallel) and for the whole process (for a measurement run in
//! a child process of its own, where the work spans several threads).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    sync::atomic::{AtomicIsize, Ordering},
};

struct Counting;

thread_local! {
    static THREAD_LIVE: Cell<isize> = const { Cell::new(0) };
    static THREAD_PEAK: Cell<isize> = const { Cell::new(0) };
}

static PROCESS_LIVE: AtomicIsize = AtomicIsize::new(0);
static PROCESS_PEAK: AtomicIsize = AtomicIsize::new(0);

fn track(delta: isize) {
    let now = PROCESS_LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PROCESS_PEAK.fetch_max(now, Ordering::Relaxed);
    let _ = THREAD_LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = THREAD_PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `work` and returns its result with the peak growth of the live heap
/// bytes allocated by the current thread while it ran.
pub fn thread_peak_growth<T>(work: impl FnOnce() -> T) -> (T, usize) {
    let baseline = THREAD_LIVE.with(Cell::get);
    THREAD_PEAK.with(|p| p.set(baseline));
    let out = work();
    let growth = THREAD_PEAK.with(Cell::get) - baseline;
    (out, growth.max(0) as usize)
}

/// Starts a process-wide measurement: returns the baseline to pass to
/// [`process_peak_growth`]. Only meaningful where nothing else runs in the
/// process (a child process running one test).
pub fn process_baseline() -> isize {
    let baseline = PROCESS_LIVE.load(Ordering::Relaxed);
    PROCESS_PEAK.store(baseline, Ordering::Relaxed);
    baseline
}

/// The peak growth of the live heap since [`process_baseline`].
pub fn process_peak_growth(baseline: isize) -> usize {
    (PROCESS_PEAK.load(Ordering::Relaxed) - baseline).max(0) as usize
}

/// Set in a child process started by [`measure_in_child`].
const MEASURING_CHILD: &str = "APPEX_TEST_MEASURING_CHILD";

/// Runs `measure` alone in a child process of this test binary, so the
/// process-wide counters see its work and nothing else. Call it from the
/// test named `test` (its path, `module::name`): in the test run it starts
/// the child running that one test and checks that it passed and printed
/// `peak heap growth`; in the child it runs `measure`.
pub fn measure_in_child(test: &str, measure: impl FnOnce()) {
    if std::env::var_os(MEASURING_CHILD).is_some() {
        return measure();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(MEASURING_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the measuring child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed") && stderr.contains("peak heap growth"),
        "the child did not run the measurement:\n{stdout}\n{stderr}"
    );
}

/// Asserts that work over `input` bytes grew the heap by less than `bound`
/// at its peak, with `input` at least `ratio` times `bound` (so the bound
/// shows the input was never held whole).
pub fn assert_bounded(what: &str, input: usize, growth: usize, bound: usize, ratio: usize) {
    assert!(
        input > ratio * bound,
        "the input ({input} bytes) must dwarf the bound"
    );
    assert!(
        growth < bound,
        "{what} {input} bytes grew the heap by {growth} bytes at peak"
    );
}
