//! The core's embedded driver (`svid_core::embedded`, the code the `thumbv7em` example links)
//! run on the host over a `std` Unix stream adapter against `svid-dev-agent`: it must fetch an
//! SVID that OpenSSL verifies against the bundle, within a bounded heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use embedded_io_adapters::std::FromStd;
use svid_core::embedded::{fetch_x509_svid, small_heap_config};
use svid_core::x509::{RenderOptions, render};
use svid_tests::{DevAgent, PATIENCE, SvidFiles};

/// Counts the live and peak heap bytes of the current thread (the driver is single-threaded;
/// the harness' reader threads are not counted).
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(grow: usize, shrink: usize) {
    // try_with: the thread-locals may already be gone while a thread exits.
    let _ = LIVE.try_with(|live| {
        let now = (live.get() + grow).saturating_sub(shrink);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size(), 0);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(0, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size, layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn fetches_a_verified_svid_from_the_dev_agent_in_bounded_heap() {
    let agent = DevAgent::start(&["--intermediate", "--federate", "other.org"]);
    let stream = UnixStream::connect(agent.socket()).expect("connecting to the agent");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut transport = FromStd::new(stream);
    let start = Instant::now();
    let mut clock = || start.elapsed().as_millis() as u64;
    let mut buf = [0u8; 512];

    let live_before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(live_before));
    let response = fetch_x509_svid(
        &mut transport,
        &mut clock,
        PATIENCE.as_millis() as u64,
        small_heap_config(),
        &mut buf,
    )
    .expect("fetching an SVID");
    let peak = PEAK.with(Cell::get) - live_before;

    let opts = RenderOptions::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let rendered = render(&response, &opts, now).expect("the core validates the SVID");
    let issued = agent.wait_issued(1, PATIENCE);
    assert_eq!(rendered.spiffe_id, issued[0].spiffe_id);
    assert!(rendered.not_after > now);

    let dir = tempfile::tempdir().unwrap();
    let files = SvidFiles::in_dir(dir.path());
    std::fs::write(&files.svid, &rendered.svid_pem).unwrap();
    std::fs::write(&files.key, &rendered.key_pem).unwrap();
    std::fs::write(&files.bundle, rendered.bundle_pem()).unwrap();
    files.verify_chain().expect("openssl verifies the SVID");
    files.key_matches_leaf().expect("the key is the leaf's");
    assert_eq!(
        files.leaf_serial().unwrap(),
        issued[0].serial_hex,
        "the SVID the agent issued"
    );

    eprintln!("embedded driver peak heap: {peak} bytes");
    // A response of a few KiB must not cost anywhere near the 64 KiB message limit.
    assert!(peak > 0 && peak < 64 << 10, "peak heap {peak} bytes");
}
