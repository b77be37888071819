//! Times the snapshot build of a generated city, phase by phase, with memory figures.
//!
//! `cargo run --release --example snapshot_build -- [CITY_DIR] [REPEATS]`; the city folder
//! defaults to the one `benches/city.rs` generates for 100,000 buildings
//! (`target/bench-city/100000-seed7`, made by `GRIDATLAS_BENCH_BUILDINGS=100000 cargo bench
//! --bench city`). Phases are the `snapshot phase` debug events of the build, shown by
//! default (`RUST_LOG=off` hides them).
//!
//! Every repeat measures the reference (cloning the dataset) in the same run, then the build
//! from a fresh clone, then dropping the snapshot. Heap figures come from a counting wrapper
//! around mimalloc (live bytes exactly, only with `--heap` as first argument: counting slows
//! the build down); VmRSS/VmHWM from /proc/self/status.
//!
//! With `VERIFY_ANCHORS=1`, it first checks that `geometry::interior::interior_point` gives
//! geo's interior point bit for bit on every footprint and grid of the city.

use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use gridatlas::atlas::Snapshot;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Counting costs (two threads contend for the counters), so it is on only with `--heap`.
static COUNT: AtomicBool = AtomicBool::new(false);

fn counting() -> bool {
    COUNT.load(Ordering::Relaxed)
}

// SAFETY: forwards every call to mimalloc unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(l) };
        if counting() && !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(p, l) };
        if counting() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(l) };
        if counting() && !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { mimalloc::MiMalloc.realloc(p, l, new) };
        if counting() && !q.is_null() {
            if new >= l.size() {
                let now = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn status(label: &str) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    eprintln!(
        "mem {label:<28} heap live {:>8.1} MiB  heap peak {:>8.1} MiB  VmRSS {:>8.1} MiB  VmHWM {:>8.1} MiB",
        mib(LIVE.load(Ordering::Relaxed)),
        mib(PEAK.load(Ordering::Relaxed)),
        field("VmRSS:"),
        field("VmHWM:"),
    );
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "gridatlas::atlas=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--heap") {
        args.next();
        COUNT.store(true, Ordering::Relaxed);
    }
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-city/100000-seed7")
    });
    let repeats: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let verify = std::env::var_os("VERIFY_ANCHORS").is_some();

    status("start");
    let started = Instant::now();
    let ds = gridatlas::import::geodata::read_folder(&dir).expect("the city folder reads");
    eprintln!(
        "read {} grids, {} buildings in {:.2} s",
        ds.grids.len(),
        ds.buildings.len(),
        started.elapsed().as_secs_f64()
    );
    status("dataset read");

    if verify {
        verify_anchors(&ds);
    }

    let mut clones = Vec::new();
    let mut builds = Vec::new();
    let mut drops = Vec::new();
    for r in 0..repeats {
        let t = Instant::now();
        let copy = ds.clone();
        let clone_s = t.elapsed().as_secs_f64();
        drop(copy);

        let copy = ds.clone();
        let before = LIVE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let t = Instant::now();
        let snapshot = Snapshot::from_dataset(copy, 1);
        let build_s = t.elapsed().as_secs_f64();
        let after = LIVE.load(Ordering::Relaxed);
        let peak = PEAK.load(Ordering::Relaxed);
        eprintln!(
            "repeat {r}: clone (reference) {clone_s:.3} s, build {build_s:.3} s \
             ({} grids, {} buildings, {} addresses)",
            snapshot.spatial.grids.len(),
            snapshot.spatial.buildings.len(),
            snapshot.spatial.addresses.len(),
        );
        if counting() {
            eprintln!(
                "repeat {r}: heap before {:.1} MiB (dataset copy included), after {:.1} MiB, \
                 peak during build {:.1} MiB",
                mib(before),
                mib(after),
                mib(peak),
            );
        }
        status("snapshot built");
        let t = Instant::now();
        drop(snapshot);
        let drop_s = t.elapsed().as_secs_f64();
        eprintln!("repeat {r}: drop snapshot {drop_s:.3} s");
        clones.push(clone_s);
        builds.push(build_s);
        drops.push(drop_s);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    eprintln!(
        "median of {repeats}: clone (reference) {:.3} s, build {:.3} s, drop {:.3} s",
        median(&mut clones),
        median(&mut builds),
        median(&mut drops)
    );

    if counting() {
        heap_breakdown(&ds);
    }

    // What a service holds once ready: only the snapshot, the dataset it came from dropped.
    let snapshot = Snapshot::from_dataset(ds, 1);
    status("snapshot only (dataset moved)");
    if counting() {
        let before = LIVE.load(Ordering::Relaxed);
        let roster = gridatlas::atlas::Roster::build(
            &snapshot.spatial,
            snapshot.roster.to_attributes(&snapshot.spatial),
        );
        eprintln!(
            "heap {:<40} {:>8.1} MiB",
            "roster alone (rebuilt)",
            mib(LIVE.load(Ordering::Relaxed) - before)
        );
        drop(roster);
    }
    // SAFETY: mi_collect has no preconditions; it only returns free memory to the system.
    unsafe { libmimalloc_sys::mi_collect(true) };
    status("after mi_collect(true)");
    eprintln!(
        "snapshot alone: heap live {:.1} MiB",
        mib(LIVE.load(Ordering::Relaxed))
    );
    drop(snapshot);
}

/// Live heap of the parts of the dataset, and of the address index alone.
fn heap_breakdown(ds: &gridatlas::model::Dataset) {
    let measure = |label: &str, f: &dyn Fn() -> Box<dyn std::any::Any>| {
        let before = LIVE.load(Ordering::Relaxed);
        let kept = f();
        eprintln!(
            "heap {label:<40} {:>8.1} MiB",
            mib(LIVE.load(Ordering::Relaxed) - before)
        );
        drop(kept);
    };
    measure("dataset grids (clone)", &|| Box::new(ds.grids.clone()));
    measure("dataset buildings (clone)", &|| {
        Box::new(ds.buildings.clone())
    });
    measure("dataset people, leaders, teams (clone)", &|| {
        Box::new((ds.people.clone(), ds.leaders.clone(), ds.teams.clone()))
    });
    measure("address index alone", &|| {
        let mut b = gridatlas::address::AddressIndexBuilder::new();
        for (i, bd) in ds.buildings.iter().enumerate() {
            for a in &bd.addresses {
                let _ = b.add_address(a, i as u32);
            }
            b.add_name(&bd.name, i as u32);
            if let Some(en) = &bd.name_en {
                b.add_name(en, i as u32);
            }
            for alias in &bd.aliases {
                b.add_name(alias, i as u32);
            }
        }
        let index = b.build();
        eprintln!(
            "     ({} addresses, {} names)",
            index.address_count(),
            index.name_count()
        );
        Box::new(index)
    });
}

/// `geometry::interior::interior_point` against geo's `interior_point`, on every footprint and
/// every grid of the city.
fn verify_anchors(ds: &gridatlas::model::Dataset) {
    use geo::InteriorPoint;
    use gridatlas::geometry::interior::interior_point;
    let shapes: Vec<&geo::MultiPolygon<f64>> = ds
        .buildings
        .iter()
        .map(|b| &b.footprint)
        .chain(ds.grids.iter().map(|g| &g.geometry))
        .collect();
    let bits = |p: Option<geo::Point<f64>>| p.map(|p| (p.x().to_bits(), p.y().to_bits()));
    let t = Instant::now();
    let ours: Vec<_> = shapes.iter().map(|s| bits(interior_point(s))).collect();
    let ours_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let theirs: Vec<_> = shapes.iter().map(|s| bits(s.interior_point())).collect();
    let theirs_s = t.elapsed().as_secs_f64();
    let differ = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
    eprintln!(
        "anchors: {} shapes, {differ} differ from geo; geometry::interior {ours_s:.3} s, geo {theirs_s:.3} s",
        shapes.len()
    );
    assert_eq!(differ, 0, "interior points differ from geo's");
}
