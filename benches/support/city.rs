//! The generated city the city-scale benches share, cached under target/bench-city/ so that
//! it is generated once per size.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gridatlas::generate::{Options, generate};
use gridatlas::model::Dataset;

/// The generator's seed for every bench city.
pub const SEED: u64 = 7;

/// A city size from an environment variable (underscores allowed), else `default`.
pub fn size_from_env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn city_dir(n: u64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-city")
        .join(format!("{n}-seed{SEED}"))
}

/// The generated city of `n` buildings, generating it on first use (progress on stderr).
pub fn city(n: u64) -> Dataset {
    let dir = city_dir(n);
    if !dir.join("grids.geojson").exists() {
        eprintln!(
            "bench city: generating {n} buildings into {}",
            dir.display()
        );
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent).expect("target/bench-city can be created");
        }
        let opts = Options {
            buildings: n,
            seed: SEED,
            english_addresses: true,
        };
        let step = (n / 10).max(1);
        generate(&opts, &dir, &mut |done| {
            if done % step == 0 {
                eprintln!("bench city: {done}/{n} buildings");
            }
        })
        .expect("the city generates");
    }
    let started = Instant::now();
    let ds = gridatlas::import::geodata::read_folder(&dir).expect("the generated city reads");
    eprintln!(
        "bench city: read {} grids, {} buildings in {:.1} s",
        ds.grids.len(),
        ds.buildings.len(),
        started.elapsed().as_secs_f64()
    );
    ds
}
