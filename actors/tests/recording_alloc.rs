//! The recording path allocates nothing per frame once set up: the tap the media thread
//! pushes into, and the recorder's write path (pairing, resampling, interleaving, writing)
//! after the first tick created the file.
//!
//! A counting global allocator keeps a per-thread count, so other tests running on other
//! threads do not disturb the measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use switchboard_actors::recording::file::RecordingFile;
use switchboard_actors::recording::tap;
use switchboard_engine::media::{FrameSink, SampleRate, Side, MAX_FRAME_SAMPLES};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // try_with: the slot may be gone while a thread is being torn down
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local Cell with a const initializer, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

#[test]
fn the_recording_counter_sees_allocations_on_this_thread() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations() > before);
    drop(v);
}

#[test]
fn a_recording_tap_takes_frames_without_allocating_even_when_full() {
    let (mut tap, mut reader) = tap::channel();
    let nb = [100i16; 160];
    let wb = [-100i16; 320];
    let mut out = [0i16; MAX_FRAME_SAMPLES];
    let before = allocations();
    // 10 s of a call, drained as the recorder would every tick
    for _ in 0..500 {
        tap.frame(Side::Caller, SampleRate::NARROW, &nb);
        tap.frame(Side::Callee, SampleRate::WIDE, &wb);
        while reader.next_frame(&mut out).is_some() {}
    }
    // and 2 s more with nobody draining: the ring fills and frames are dropped
    for _ in 0..200 {
        tap.frame(Side::Caller, SampleRate::NARROW, &nb);
        tap.frame(Side::Callee, SampleRate::WIDE, &wb);
    }
    let n = allocations() - before;
    assert_eq!(n, 0, "{n} allocations in 700 ticks");
    assert!(tap.dropped() > 0);
}

#[test]
fn the_recording_write_path_allocates_nothing_per_tick_after_the_first() {
    let dir = std::env::temp_dir().join(format!("sb-rec-alloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut file = RecordingFile::new(dir.join("1.wav"), Instant::now());
    let nb = [100i16; 160];
    let wb = [-100i16; 320];
    // the first ticks create the file and the resampler
    for _ in 0..5 {
        file.push(Side::Caller, SampleRate::NARROW, &nb).unwrap();
        file.push(Side::Callee, SampleRate::WIDE, &wb).unwrap();
    }
    let before = allocations();
    for _ in 0..500 {
        file.push(Side::Caller, SampleRate::NARROW, &nb).unwrap();
        file.push(Side::Callee, SampleRate::WIDE, &wb).unwrap();
    }
    let n = allocations() - before;
    assert_eq!(n, 0, "{n} allocations in 500 ticks");
    assert_eq!(file.finish().unwrap().frames, 505 * 320);
    let _ = std::fs::remove_dir_all(&dir);
}
