//! The gridatlas command line: serve, import, validate, lookup, generate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use gridatlas::api::{self, AppState, AuthConfig};
use gridatlas::atlas::Visibility;
use gridatlas::import::osm;
use gridatlas::service::{self, ServiceError};
use gridatlas::store::DEFAULT_DATABASE_URL;
use indicatif::{ProgressBar, ProgressStyle};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gridatlas",
    version,
    about = "Grid-governance geospatial service: who is responsible here?"
)]
struct Cli {
    /// Database: sqlite://PATH (the embedded default).
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    /// Data folder that seeds an empty database.
    #[arg(long, env = "GRIDATLAS_SEED", default_value = "geodata", global = true)]
    seed: PathBuf,
    /// Never seed, even when the database is empty.
    #[arg(long, global = true)]
    no_seed: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default command).
    Serve(ServeArgs),
    /// Import data into the store (all-or-nothing).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Check a data folder: every problem (overlaps, gaps, nesting, buildings, vacant leaders)
    /// as a JSON line with its region; non-zero exit when any is an error.
    Validate {
        /// The data folder (grids.geojson, buildings.geojson, people.csv, leaders.csv, teams.json).
        dir: PathBuf,
    },
    /// Print the answer for a point, an address or a building.
    Lookup(LookupArgs),
    /// Write a synthetic city (grids, buildings, addresses, leaders, teams) as a data folder.
    Generate(GenerateArgs),
    /// Measure full point answers per second on one core, in process, on points from a file.
    BenchLookups(BenchLookupsArgs),
}

#[derive(Args)]
struct BenchLookupsArgs {
    /// CSV file of points, one `id,lon,lat` per line (WGS84), as scripts/bench-compare writes.
    #[arg(long)]
    points: PathBuf,
    /// Seconds to keep answering (the points are cycled through).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GRIDATLAS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Bearer token that may read contacts and write.
    #[arg(long, env = "GRIDATLAS_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Bearer token that may read contacts.
    #[arg(long, env = "GRIDATLAS_DISPATCHER_TOKEN", hide_env_values = true)]
    dispatcher_token: Option<String>,
    /// Bearer token that may draft, validate and publish plans.
    #[arg(long, env = "GRIDATLAS_PLANNER_TOKEN", hide_env_values = true)]
    planner_token: Option<String>,
    /// Snapshots of earlier moments kept in memory for `at=` (each is as large as the atlas).
    #[arg(long, env = "GRIDATLAS_HISTORY_SNAPSHOTS", default_value_t = gridatlas::atlas::history::DEFAULT_HISTORY_SNAPSHOTS)]
    history_snapshots: usize,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Load a whole data folder into an empty database.
    Geodata { dir: PathBuf },
    /// Building footprints exported from OpenStreetMap (overpass-turbo GeoJSON).
    Buildings { file: PathBuf },
}

#[derive(Args)]
struct LookupArgs {
    #[arg(long, requires = "lat", allow_negative_numbers = true)]
    lon: Option<f64>,
    #[arg(long, requires = "lon", allow_negative_numbers = true)]
    lat: Option<f64>,
    /// Coordinate system of lon/lat: wgs84, gcj02 or bd09.
    #[arg(long, default_value = "wgs84")]
    crs: String,
    #[arg(long, conflicts_with_all = ["lon", "building"])]
    address: Option<String>,
    #[arg(long, conflicts_with_all = ["lon", "address"])]
    building: Option<String>,
    /// Include leaders' contact details (personal data: only for authorised operators).
    #[arg(long)]
    contacts: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "gridatlas=info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let seed = (!cli.no_seed).then_some(cli.seed.as_path());
    match cli.command {
        None => serve(&cli.database_url, seed, ServeArgs::from_env()).await,
        Some(Command::Serve(args)) => serve(&cli.database_url, seed, args).await,
        Some(Command::Import(ImportCommand::Geodata { dir })) => {
            import_geodata(&cli.database_url, &dir).await
        }
        Some(Command::Import(ImportCommand::Buildings { file })) => {
            import_buildings(&cli.database_url, seed, &file).await
        }
        Some(Command::Validate { dir }) => validate(&dir),
        Some(Command::Lookup(args)) => lookup(&cli.database_url, seed, args).await,
        Some(Command::Generate(args)) => generate(args),
        Some(Command::BenchLookups(args)) => bench_lookups(&cli.database_url, seed, args).await,
    }
}

impl ServeArgs {
    /// `gridatlas` with no command serves, with the same environment variables as `serve`.
    fn from_env() -> ServeArgs {
        let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        ServeArgs {
            listen: var("GRIDATLAS_LISTEN").unwrap_or_else(|| "127.0.0.1:8080".into()),
            admin_token: var("GRIDATLAS_ADMIN_TOKEN"),
            dispatcher_token: var("GRIDATLAS_DISPATCHER_TOKEN"),
            planner_token: var("GRIDATLAS_PLANNER_TOKEN"),
            history_snapshots: var("GRIDATLAS_HISTORY_SNAPSHOTS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(gridatlas::atlas::history::DEFAULT_HISTORY_SNAPSHOTS),
        }
    }
}

async fn serve(database_url: &str, seed: Option<&Path>, args: ServeArgs) -> Result<ExitCode> {
    gridatlas::memory::set_release(release_free_memory);
    let (store, atlas) = service::start(database_url, seed)
        .await
        .with_context(|| format!("cannot start on {database_url}"))?;
    let nonempty = |t: Option<String>| t.filter(|t| !t.trim().is_empty());
    let auth = AuthConfig {
        admin_token: nonempty(args.admin_token),
        dispatcher_token: nonempty(args.dispatcher_token),
        planner_token: nonempty(args.planner_token),
    };
    if auth.admin_token.is_none() {
        tracing::info!("no admin token configured: writes are disabled");
    }
    let state = AppState::new(atlas, store, auth).with_history_snapshots(args.history_snapshots);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(listen = %args.listen, database = %redact(database_url), "gridatlas serving");
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Returns mimalloc's free pages to the system (after a snapshot build dropped its input).
fn release_free_memory() {
    // SAFETY: mi_collect has no preconditions; it only frees memory nothing refers to.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

async fn import_geodata(database_url: &str, dir: &Path) -> Result<ExitCode> {
    let bar = spinner(&format!("reading and checking {}", dir.display()));
    let ds = service::read_valid_folder(dir);
    bar.finish_and_clear();
    let ds = ds?;
    let store = service::open_store(database_url, None).await?;
    if !store.is_empty().await? {
        bail!("the database already holds an atlas; import geodata loads an empty database only");
    }
    let bar = ProgressBar::new(gridatlas::store::seed_rows(&ds));
    bar.set_style(
        ProgressStyle::with_template("writing {bar:40} {pos}/{len} rows ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress_bar = bar.clone();
    store
        .seed_with_progress(&ds, "import", &move |done, total| {
            progress_bar.set_length(total);
            progress_bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    println!("imported {}", counts(&ds));
    Ok(ExitCode::SUCCESS)
}

async fn import_buildings(
    database_url: &str,
    seed: Option<&Path>,
    file: &Path,
) -> Result<ExitCode> {
    let (store, atlas) = service::start(database_url, seed).await?;
    let bar = spinner(&format!("reading {}", file.display()));
    let snapshot = atlas.snapshot();
    let file_owned = file.to_path_buf();
    let read =
        tokio::task::spawn_blocking(move || osm::read_buildings(&file_owned, &snapshot.spatial))
            .await
            .context("reader failed")?;
    bar.finish_and_clear();
    let (buildings, report) = read?;
    let bar = spinner(&format!("writing {} buildings", buildings.len()));
    let written = store.upsert_buildings(&buildings, "import").await?;
    bar.finish_and_clear();
    let summary = serde_json::json!({ "read": report, "written": written });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

/// "51 grids, 31 buildings, …" for a dataset.
fn counts(ds: &gridatlas::model::Dataset) -> String {
    format!(
        "{} grids, {} buildings, {} people, {} leader roles, {} service teams",
        ds.grids.len(),
        ds.buildings.len(),
        ds.people.len(),
        ds.leaders.len(),
        ds.teams.len()
    )
}

/// Prints every problem of the folder (one JSON object a line, with its region as GeoJSON),
/// then a summary; fails when any problem is an error (warnings alone pass).
fn validate(dir: &Path) -> Result<ExitCode> {
    use gridatlas::planner::validation::{problem_json, validate};
    let ds = gridatlas::import::geodata::read_folder(dir).map_err(ServiceError::from)?;
    let bar = ProgressBar::new_spinner().with_message(format!("checking {}", counts(&ds)));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let report = validate(&ds);
    bar.finish_and_clear();
    for p in &report.problems {
        println!("{}", serde_json::to_string(&problem_json(p))?);
    }
    if report.ok() {
        println!(
            "ok: {}; no error, {} warning(s)",
            counts(&ds),
            report.warnings()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} error(s) and {} warning(s) in {}",
            report.errors(),
            report.warnings(),
            dir.display()
        );
        Ok(ExitCode::FAILURE)
    }
}

async fn lookup(database_url: &str, seed: Option<&Path>, args: LookupArgs) -> Result<ExitCode> {
    use gridatlas::api::lookup::{Query, parse_crs, resolve};
    use gridatlas::atlas::answer::DEFAULT_BORDER_TOLERANCE_M;
    let query = match (args.lon, args.lat, args.address, args.building) {
        (Some(lon), Some(lat), None, None)
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) =>
        {
            bail!("--lon must be within ±180 and --lat within ±90")
        }
        (Some(lon), Some(lat), None, None) => Query::Point {
            lon,
            lat,
            crs: parse_crs(Some(&args.crs)).map_err(|p| anyhow::anyhow!(p.detail))?,
        },
        (None, None, Some(a), None) => Query::Address(a),
        (None, None, None, Some(b)) => Query::Building(b),
        _ => bail!("give --lon and --lat, --address, or --building"),
    };
    let (_, atlas) = service::start(database_url, seed).await?;
    let vis = Visibility {
        contacts: args.contacts,
    };
    match resolve(&atlas.snapshot(), &query, DEFAULT_BORDER_TOLERANCE_M, vis) {
        Ok(answer) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(problem) => {
            eprintln!("{}: {}", problem.title, problem.detail);
            if let Some(s) = problem.extra.get("suggestions") {
                eprintln!("suggestions: {s}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

#[derive(Args)]
struct GenerateArgs {
    /// Number of buildings (1 to 5,000,000).
    #[arg(long)]
    buildings: u64,
    /// Random seed (a whole number): the same seed writes the same bytes.
    // The id `seed` shadows the global --seed (a data folder) for this command; clap merges
    // the values of both by id, so this one has the same type and is parsed here.
    #[arg(long, required = true, value_name = "S")]
    seed: PathBuf,
    /// Folder to write; must not exist yet, or be empty.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Leave out the English form of each building's main address.
    #[arg(long)]
    no_english_addresses: bool,
}

fn generate(args: GenerateArgs) -> Result<ExitCode> {
    use gridatlas::generate::{Options, generate};
    let seed_text = args.seed.to_string_lossy();
    let seed: u64 = seed_text.trim().parse().with_context(|| {
        format!(
            "--seed must be a whole number from 0 to {}, not '{seed_text}'",
            u64::MAX
        )
    })?;
    let opts = Options {
        buildings: args.buildings,
        seed,
        english_addresses: !args.no_english_addresses,
    };
    let bar = ProgressBar::new(args.buildings);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} generating [{bar:40}] {human_pos}/{human_len} buildings [{elapsed_precise}, eta {eta}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let result = generate(&opts, &args.out, &mut |done| bar.set_position(done));
    bar.finish_and_clear();
    let summary =
        result.with_context(|| format!("cannot generate a city in {}", args.out.display()))?;
    println!(
        "wrote {} in {:.1} s: {} buildings, {} neighborhood / {} building-group / {} building grids, \
         {} roads, {} people, {} leader roles ({} vacant), {} service teams, {:.1} km²",
        args.out.display(),
        started.elapsed().as_secs_f64(),
        summary.buildings,
        summary.neighborhoods,
        summary.building_groups,
        summary.building_grids,
        summary.roads,
        summary.people,
        summary.leader_roles,
        summary.vacant_roles,
        summary.teams,
        summary.area_km2
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads `id,lon,lat` lines; names the line of any bad one.
fn read_points(path: &Path) -> Result<Vec<(f64, f64)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .with_context(|| format!("cannot read points from {}", path.display()))?;
    let mut points = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 1;
        let record = record.with_context(|| format!("{}: line {line}", path.display()))?;
        let number = |i: usize, what: &str, limit: f64| -> Result<f64> {
            let raw = record.get(i).unwrap_or_default().trim();
            match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v.abs() <= limit => Ok(v),
                _ => bail!(
                    "{}: line {line}: {what} must be a number within ±{limit}, not '{raw}' (expected id,lon,lat)",
                    path.display()
                ),
            }
        };
        points.push((number(1, "lon", 180.0)?, number(2, "lat", 90.0)?));
    }
    if points.is_empty() {
        bail!(
            "{} holds no points (expected id,lon,lat lines)",
            path.display()
        );
    }
    Ok(points)
}

async fn bench_lookups(
    database_url: &str,
    seed: Option<&Path>,
    args: BenchLookupsArgs,
) -> Result<ExitCode> {
    use gridatlas::atlas::answer::DEFAULT_BORDER_TOLERANCE_M;
    use std::time::{Duration, Instant};
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds must be more than 0 and at most 3600");
    }
    let points = read_points(&args.points)?;
    let (_, atlas) = service::start(database_url, seed).await?;
    let snapshot = atlas.snapshot();
    let vis = Visibility::default();
    eprintln!(
        "bench-lookups: {} points, {} s on one core",
        points.len(),
        args.seconds
    );
    let budget = Duration::from_secs_f64(args.seconds);
    let (mut done, mut answered) = (0u64, 0u64);
    let started = Instant::now();
    // Whole passes over the points, so every point weighs the same in the figure.
    while started.elapsed() < budget {
        for &(lon, lat) in &points {
            let answer = snapshot.answer_point(lon, lat, DEFAULT_BORDER_TOLERANCE_M, vis);
            answered += u64::from(std::hint::black_box(answer).is_some());
        }
        done += points.len() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "lookups_per_s={:.0} ns_per_lookup={:.0} answered_share={:.4} points={} seconds={seconds:.2}",
        done as f64 / seconds,
        seconds * 1e9 / done as f64,
        answered as f64 / done as f64,
        points.len()
    );
    Ok(ExitCode::SUCCESS)
}
