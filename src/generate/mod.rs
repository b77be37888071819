//! A realistic synthetic city, written as a data folder in the format of `geodata/`
//! (grids.geojson, buildings.geojson, people.csv, leaders.csv, teams.json).
//!
//! * Streets: a warped, jittered grid of named roads (Chinese names after provinces and cities,
//!   with 东西南北中 sections and ordinal streets: 湖北西路, 福州一路), centred on Shanghai.
//! * Neighborhood grids are road-bounded blocks, sometimes two side by side; building-group
//!   grids tile each block (cut along straight lines between division points of its sides);
//!   building grids are parcels inside the groups, set back from roads and neighbours;
//!   footprints are rectangles, L- and U-shapes and courtyard blocks of 10–80 m sides, a few
//!   metres inside their parcel. Neighbours share their border vertex for vertex. See
//!   [`layout`] for the geometry.
//! * Codes follow the sample's scheme: 9-digit sub-district code (3101 + district + street;
//!   real district numbers first, then synthetic ones) + 2 + 2 + 3 digits. A sub-district is a
//!   tile of 8 × 8 blocks, so it never holds more than 64 neighborhoods.
//! * Addresses: every building facing a road has a door plate on it (`湖北西路128号`; odd and
//!   even numbers on opposite sides, numbers growing away from the city centre on 西 and 南
//!   sections), corner buildings one on each road; buildings behind them are in a lane off the
//!   nearest road (`湖北西路131弄3号`). Every address is unique. The English form of the main
//!   address follows (`128 West Hubei Road`) unless switched off.
//! * Leaders (about 10 % of roles vacant, neighborhoods always staffed), fictitious people
//!   (`021-5555-xxxx`, `@example.org`), service teams mostly at neighborhood level with
//!   a few building-group specialist teams.
//!
//! The output is a function of (buildings, seed, options) alone: every entity draws from its
//! own random stream ([`rng`]), and files are written in a fixed order. Files are written
//! into a temporary folder beside the target and renamed into place at the end, so a failed
//! run leaves nothing behind.

mod layout;
mod names;
mod rng;
mod write;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::address::NormalizedAddress;
use crate::import::geodata::{BUILDINGS_FILE, GRIDS_FILE, LEADERS_FILE, PEOPLE_FILE, TEAMS_FILE};
use layout::{Block, Frame, Parcel, Pt, Side, footprint, merged_ring, push_block_ring};
use names::{RoadNetwork, Use};
use rng::{Rng, Tag};
use write::{FeatureOut, Out, Proj, push_polygon, push_str, push_str_list};

/// Most buildings one run generates.
pub const MAX_BUILDINGS: u64 = 5_000_000;
/// Centre of the city (People's Square, Shanghai), WGS84.
pub const CENTRE_LON: f64 = 121.47;
pub const CENTRE_LAT: f64 = 31.23;
/// `valid_from` of every grid.
pub const VALID_FROM: &str = "2025-01-01T00:00:00Z";
/// Blocks per side of a sub-district tile (at most 64 neighborhoods, under the 99 allowed).
const TILE: usize = 8;
/// Metres of road frontage per house-number slot on each side.
const SLOT_M: f64 = 5.0;
/// District numbers for codes 3101DD…: the real ones first (静安 06 …), then synthetic ones.
const REAL_DISTRICTS: [u32; 16] = [6, 1, 4, 5, 7, 9, 10, 12, 13, 14, 15, 16, 17, 18, 20, 51];

#[derive(Debug, Clone)]
pub struct Options {
    /// Number of buildings (1..=[`MAX_BUILDINGS`]).
    pub buildings: u64,
    pub seed: u64,
    /// Add the English form of each building's main address to its addresses.
    pub english_addresses: bool,
}

/// What was written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub buildings: u64,
    pub neighborhoods: u64,
    pub building_groups: u64,
    pub building_grids: u64,
    pub blocks: u64,
    pub sub_districts: u64,
    pub roads: u64,
    pub people: u64,
    pub leader_roles: u64,
    pub vacant_roles: u64,
    pub teams: u64,
    pub addresses: u64,
    pub lane_addresses: u64,
    /// Planar area of the neighborhoods, km².
    pub area_km2: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the number of buildings must be at least 1")]
    NoBuildings,
    #[error("at most {MAX_BUILDINGS} buildings can be generated, not {0}")]
    TooManyBuildings(u64),
    #[error(
        "{0} already exists and is not an empty folder; give a new folder to --out (nothing was written)"
    )]
    OutExists(PathBuf),
    #[error("{0} is not a usable folder name for the output")]
    BadOut(PathBuf),
    #[error("{0} is not an existing folder; it should hold the output folder")]
    NoParent(PathBuf),
    #[error("cannot write {out} (working folder {tmp}): {error}")]
    Prepare {
        out: PathBuf,
        tmp: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Json {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("{0}")]
    Layout(String),
}

impl GenerateError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> GenerateError {
        GenerateError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// Writes a city of `opts.buildings` buildings into the folder `out`, which must not exist or
/// be empty. `progress` is told how many buildings are written so far.
pub fn generate(
    opts: &Options,
    out: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, GenerateError> {
    if opts.buildings == 0 {
        return Err(GenerateError::NoBuildings);
    }
    if opts.buildings > MAX_BUILDINGS {
        return Err(GenerateError::TooManyBuildings(opts.buildings));
    }
    check_target(out)?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| GenerateError::BadOut(out.to_path_buf()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        return Err(GenerateError::NoParent(parent));
    }
    let tmp = parent.join(format!(".{name}.generating-{}", std::process::id()));
    let prepare = |error| GenerateError::Prepare {
        out: out.to_path_buf(),
        tmp: tmp.clone(),
        error,
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(prepare)?;
    }
    std::fs::create_dir(&tmp).map_err(prepare)?;
    let result = write_city(opts, &tmp, progress).and_then(|summary| {
        // Another process may have filled the target meanwhile.
        let still_empty = check_target(out)?;
        if still_empty {
            std::fs::remove_dir(out).map_err(|e| GenerateError::io(out, e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| GenerateError::io(out, e))?;
        Ok(summary)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Ok(true) when `out` is an empty folder, Ok(false) when it does not exist.
fn check_target(out: &Path) -> Result<bool, GenerateError> {
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => {
            let mut entries = std::fs::read_dir(out).map_err(|e| GenerateError::io(out, e))?;
            if entries.next().is_some() {
                Err(GenerateError::OutExists(out.to_path_buf()))
            } else {
                Ok(true)
            }
        }
        Ok(_) => Err(GenerateError::OutExists(out.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(GenerateError::io(out, e)),
    }
}

/// The city decided before anything is written.
pub(crate) struct Plan {
    pub seed: u64,
    pub frame: Frame,
    /// Blocks per row.
    pub nx: usize,
    /// Rows (the last may be partial).
    pub ny: usize,
    /// The last block, and how many of its parcels get a building.
    pub last: (usize, usize),
    pub last_take: usize,
    pub roads: RoadNetwork,
    /// Cumulative length along each north–south line at each node (`ns_cum[i][j]`), and
    /// along each east–west line (`ew_cum[j][i]`).
    pub ns_cum: Vec<Vec<f64>>,
    pub ew_cum: Vec<Vec<f64>>,
    pub proj: Proj,
    /// Sub-district tiles per side of a district.
    pub district_span: usize,
    pub district_cols: usize,
}

fn parcel_count(frame: &Frame, i: usize, j: usize) -> usize {
    frame
        .block(i, j)
        .groups
        .iter()
        .map(|g| g.parcels.len())
        .sum()
}

/// Pass 1: size of the street grid, the last block, road names, projection.
pub(crate) fn plan(buildings: u64, seed: u64) -> Result<Plan, GenerateError> {
    let mut frame = Frame::new(seed);
    // Buildings per block, from a pilot patch.
    const PILOT: usize = 8;
    frame.ensure(PILOT, PILOT);
    let mut pilot = 0usize;
    for j in 0..PILOT {
        for i in 0..PILOT {
            pilot += parcel_count(&frame, i, j);
        }
    }
    let per_block = (pilot as f64 / (PILOT * PILOT) as f64).max(1.0);
    let blocks = buildings as f64 / per_block;
    // Square city: nx × mean width ≈ ny × mean height.
    let nx = ((blocks * 260.0 / 305.0).sqrt().round() as usize).max(1);
    let mut total = 0u64;
    let mut j = 0usize;
    let (last, last_take) = 'rows: loop {
        frame.ensure(nx, j + 1);
        for i in 0..nx {
            let c = parcel_count(&frame, i, j) as u64;
            if total + c >= buildings {
                break 'rows ((i, j), (buildings - total) as usize);
            }
            total += c;
        }
        j += 1;
        if j > 1_000_000 {
            return Err(GenerateError::Layout(
                "the street grid holds no parcels".into(),
            ));
        }
    };
    let ny = last.1 + 1;
    frame.ensure(nx, ny);
    let roads = names::name_roads(seed, nx + 1, ny, ny + 1, nx).ok_or_else(|| {
        GenerateError::Layout(format!(
            "not enough road names for a street grid of {nx} × {ny} blocks"
        ))
    })?;
    let nodes: Vec<Vec<Pt>> = (0..=nx)
        .map(|i| (0..=ny).map(|j| frame.node(i, j)).collect())
        .collect();
    let cum = |pts: &mut dyn Iterator<Item = Pt>| -> Vec<f64> {
        let mut out = Vec::new();
        let mut prev: Option<Pt> = None;
        let mut d = 0.0;
        for p in pts {
            if let Some(q) = prev {
                d += (p.x - q.x).hypot(p.y - q.y);
            }
            out.push(d);
            prev = Some(p);
        }
        out
    };
    let ns_cum = (0..=nx)
        .map(|i| cum(&mut (0..=ny).map(|j| nodes[i][j])))
        .collect();
    let ew_cum = (0..=ny)
        .map(|j| cum(&mut (0..=nx).map(|i| nodes[i][j])))
        .collect();
    let (mut min, mut max) = (
        Pt::new(f64::INFINITY, f64::INFINITY),
        Pt::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
    );
    for p in nodes.iter().flatten() {
        min = Pt::new(min.x.min(p.x), min.y.min(p.y));
        max = Pt::new(max.x.max(p.x), max.y.max(p.y));
    }
    let proj = Proj::new(
        (min.x + max.x) / 2.0,
        (min.y + max.y) / 2.0,
        CENTRE_LON,
        CENTRE_LAT,
    );
    let tiles_x = nx.div_ceil(TILE);
    let tiles_y = ny.div_ceil(TILE);
    let districts = district_numbers().len();
    let mut span = 3;
    while tiles_x.div_ceil(span) * tiles_y.div_ceil(span) > districts {
        span += 1;
    }
    if span * span > 999 {
        return Err(GenerateError::Layout(
            "too many sub-districts for the code scheme".into(),
        ));
    }
    Ok(Plan {
        seed,
        frame,
        nx,
        ny,
        last,
        last_take,
        roads,
        ns_cum,
        ew_cum,
        proj,
        district_span: span,
        district_cols: tiles_x.div_ceil(span),
    })
}

fn district_numbers() -> Vec<u32> {
    let mut v = REAL_DISTRICTS.to_vec();
    v.extend((21..=99).filter(|d| !REAL_DISTRICTS.contains(d)));
    v
}

/// One address: a door plate on a road, or a house in a lane off it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Addr {
    road: u32,
    lane: Option<u32>,
    number: u32,
}

/// House numbering along one side of a block.
struct SideNumbers {
    road: u32,
    odd: bool,
    /// Numbering distance (from the start of the road's numbering) at the segment's first
    /// and second node (index order).
    d0: f64,
    d1: f64,
    a: Pt,
    b: Pt,
    half_width: f64,
    used: BTreeSet<i64>,
    lane: Option<(u32, u32)>,
}

impl SideNumbers {
    fn new(plan: &Plan, block: &Block, side: Side) -> SideNumbers {
        let (i, j) = (block.i, block.j);
        let c = &block.corners;
        // (line, segment, a, b, odd when numbering runs forward, half width)
        let (line, cum, seg, a, b, odd_forward, half_width) = match side {
            Side::South => (
                &plan.roads.ew[j],
                &plan.ew_cum[j],
                i,
                c[0],
                c[1],
                true,
                plan.frame.ew_half_width(j),
            ),
            Side::North => (
                &plan.roads.ew[j + 1],
                &plan.ew_cum[j + 1],
                i,
                c[3],
                c[2],
                false,
                plan.frame.ew_half_width(j + 1),
            ),
            Side::West => (
                &plan.roads.ns[i],
                &plan.ns_cum[i],
                j,
                c[0],
                c[3],
                false,
                plan.frame.ns_half_width(i),
            ),
            Side::East => (
                &plan.roads.ns[i + 1],
                &plan.ns_cum[i + 1],
                j,
                c[1],
                c[2],
                true,
                plan.frame.ns_half_width(i + 1),
            ),
        };
        let s = line.section(seg);
        let start = cum[line.bounds[s]];
        let end = cum[line.bounds[s + 1]];
        let reversed = line.reversed[s];
        let along = |d: f64| if reversed { end - d } else { d - start };
        SideNumbers {
            road: line.roads[s],
            odd: odd_forward != reversed,
            d0: along(cum[seg]),
            d1: along(cum[seg + 1]),
            a,
            b,
            half_width,
            used: BTreeSet::new(),
            lane: None,
        }
    }

    /// Parameter of the projection of `p` on the segment.
    fn param(&self, p: Pt) -> f64 {
        let (dx, dy) = (self.b.x - self.a.x, self.b.y - self.a.y);
        let l2 = dx * dx + dy * dy;
        (((p.x - self.a.x) * dx + (p.y - self.a.y) * dy) / l2).clamp(0.0, 1.0)
    }

    fn distance(&self, p: Pt) -> f64 {
        let (dx, dy) = (self.b.x - self.a.x, self.b.y - self.a.y);
        ((p.x - self.a.x) * dy - (p.y - self.a.y) * dx).abs() / dx.hypot(dy)
    }

    /// A free house number nearest to the projection of `p`, kept off the segment's ends
    /// so that neighbouring blocks along the road never share one.
    fn take(&mut self, p: Pt) -> Option<u32> {
        let t = self.param(p);
        let d = self.d0 + (self.d1 - self.d0) * t;
        let lo = (self.d0.min(self.d1) / SLOT_M).floor() as i64 + 2;
        let hi = (self.d0.max(self.d1) / SLOT_M).floor() as i64 - 2;
        if hi < lo {
            return None;
        }
        let want = ((d / SLOT_M).floor() as i64).clamp(lo, hi);
        for k in 0..=(hi - lo) * 2 {
            let off = if k % 2 == 0 { k / 2 } else { -(k / 2 + 1) };
            let slot = want + off;
            if (lo..=hi).contains(&slot) && self.used.insert(slot) {
                let n = 2 * slot + if self.odd { 1 } else { 2 };
                return u32::try_from(n).ok().filter(|&n| n <= 99_999);
            }
        }
        None
    }
}

/// Addresses of every parcel of a block, `[group][parcel]`, main first.
fn block_addresses(plan: &Plan, block: &Block) -> Vec<Vec<Vec<Addr>>> {
    let mut sides: Vec<SideNumbers> = Side::ALL
        .iter()
        .map(|&s| SideNumbers::new(plan, block, s))
        .collect();
    let mut out: Vec<Vec<Vec<Addr>>> = block
        .groups
        .iter()
        .map(|g| vec![Vec::new(); g.parcels.len()])
        .collect();
    // Door plates of the buildings on the roads first, main road the widest.
    for (g, group) in block.groups.iter().enumerate() {
        for (k, parcel) in group.parcels.iter().enumerate() {
            if parcel.faces == 0 {
                continue;
            }
            let mut faces: Vec<Side> = Side::ALL
                .iter()
                .copied()
                .filter(|s| parcel.faces & s.bit() != 0)
                .collect();
            faces.sort_by(|x, y| {
                sides[*y as usize]
                    .half_width
                    .total_cmp(&sides[*x as usize].half_width)
                    .then(x.cmp(y))
            });
            let c = parcel.centroid();
            for s in faces {
                let side = &mut sides[s as usize];
                if let Some(n) = side.take(c) {
                    out[g][k].push(Addr {
                        road: side.road,
                        lane: None,
                        number: n,
                    });
                }
            }
        }
    }
    // Buildings behind: a lane off the nearest road (or any road with room), 1号, 2号, ….
    for (g, group) in block.groups.iter().enumerate() {
        for (k, parcel) in group.parcels.iter().enumerate() {
            if !out[g][k].is_empty() {
                continue;
            }
            let c = parcel.centroid();
            let mut order: Vec<usize> = (0..4).collect();
            order.sort_by(|&x, &y| sides[x].distance(c).total_cmp(&sides[y].distance(c)));
            for s in order {
                let side = &mut sides[s];
                let lane = match side.lane {
                    Some((lane, next)) => {
                        side.lane = Some((lane, next + 1));
                        Some((lane, next))
                    }
                    None => side.take(c).map(|lane| {
                        side.lane = Some((lane, 2));
                        (lane, 1)
                    }),
                };
                if let Some((lane, number)) = lane {
                    out[g][k].push(Addr {
                        road: side.road,
                        lane: Some(lane),
                        number,
                    });
                    break;
                }
            }
        }
    }
    out
}

fn render_zh(road: &names::Road, a: &Addr) -> String {
    match a.lane {
        Some(l) => format!("{}{}弄{}号", road.name, l, a.number),
        None => format!("{}{}号", road.name, a.number),
    }
}

/// A sub-district: a tile of TILE × TILE blocks.
struct Tile {
    code: String,
    name: String,
    name_en: String,
    neighborhoods: u32,
    teams: u32,
    /// Open neighborhood team and how many more neighborhoods it takes.
    open_team: Option<(usize, u32)>,
}

#[derive(Serialize)]
struct TeamJson {
    id: String,
    name: String,
    grid_codes: Vec<String>,
    members: Vec<MemberJson>,
}

#[derive(Serialize)]
struct MemberJson {
    name: String,
    department: String,
    specialty: String,
    phone: String,
}

struct Files {
    grids: FeatureOut,
    buildings: FeatureOut,
    people: Out,
    leaders: Out,
}

/// A building before it is written.
struct BuildingRec {
    parcel: Parcel,
    id: String,
    name: String,
    name_en: String,
    aliases: Vec<String>,
    addresses: Vec<String>,
    footprint: layout::Footprint,
    enterprises: u32,
    employees: u32,
    party_members: u32,
    floor_area: f64,
}

struct Writer<'a> {
    plan: &'a Plan,
    opts: &'a Options,
    files: Files,
    tiles: BTreeMap<(usize, usize), Tile>,
    used_tile_names: BTreeSet<String>,
    teams: Vec<TeamJson>,
    members: u64,
    buildings: u64,
    people: u64,
    id_width: usize,
    summary: Summary,
    buf: String,
    props: String,
}

fn write_city(
    opts: &Options,
    dir: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, GenerateError> {
    let plan = plan(opts.buildings, opts.seed)?;
    let mut people = Out::create(&dir.join(PEOPLE_FILE))?;
    people.write("id,name,phone,email\n")?;
    let mut leaders = Out::create(&dir.join(LEADERS_FILE))?;
    leaders.write("grid_code,role,person_id\n")?;
    let files = Files {
        grids: FeatureOut::create(&dir.join(GRIDS_FILE))?,
        buildings: FeatureOut::create(&dir.join(BUILDINGS_FILE))?,
        people,
        leaders,
    };
    let mut w = Writer {
        plan: &plan,
        opts,
        files,
        tiles: BTreeMap::new(),
        used_tile_names: BTreeSet::new(),
        teams: Vec::new(),
        members: 0,
        buildings: 0,
        people: 0,
        id_width: (opts.buildings.to_string().len()).max(3),
        summary: Summary {
            roads: plan.roads.roads.len() as u64,
            ..Summary::default()
        },
        buf: String::with_capacity(1 << 12),
        props: String::with_capacity(1 << 10),
    };
    let (li, lj) = plan.last;
    for j in 0..plan.ny {
        let row_end = if j == lj { li + 1 } else { plan.nx };
        let mut i = 0;
        while i < row_end {
            let merge = i + 1 < row_end
                && (i + 1) % TILE != 0
                && Rng::new(plan.seed, Tag::Merge, i as u64, j as u64).chance(0.2);
            let mut blocks = vec![plan.frame.block(i, j)];
            if merge {
                blocks.push(plan.frame.block(i + 1, j));
            }
            i += blocks.len();
            w.neighborhood(&blocks)?;
            progress(w.buildings);
        }
    }
    let Writer {
        files,
        teams,
        mut summary,
        ..
    } = w;
    files.grids.finish()?;
    files.buildings.finish()?;
    files.people.finish()?;
    files.leaders.finish()?;
    let teams_path = dir.join(TEAMS_FILE);
    let mut t = Out::create(&teams_path)?;
    let text = serde_json::to_string_pretty(&teams).map_err(|error| GenerateError::Json {
        path: teams_path.clone(),
        error,
    })?;
    t.write(&text)?;
    t.write("\n")?;
    t.finish()?;
    summary.teams = teams.len() as u64;
    let readme = dir.join("README.md");
    let mut r = Out::create(&readme)?;
    r.write(&readme_text(opts, &plan, &summary))?;
    r.finish()?;
    Ok(summary)
}

fn readme_text(opts: &Options, plan: &Plan, s: &Summary) -> String {
    format!(
        "# Synthetic city (generated, fictitious)\n\n\
         Written by `gridatlas generate --buildings {} --seed {}{}`; the same command writes the \
         same bytes. Format: see geodata/README.md. Every name, address, person and figure is \
         invented; the street grid is centred on {CENTRE_LON}, {CENTRE_LAT} (Shanghai) but \
         follows no real street.\n\n\
         | what | count |\n|---|---|\n\
         | street grid | {} × {} blocks |\n| roads | {} |\n| sub-districts | {} |\n\
         | neighborhood grids | {} |\n| building-group grids | {} |\n| building grids | {} |\n\
         | buildings | {} |\n| addresses | {} ({} in lanes) |\n| people | {} |\n\
         | leader roles | {} ({} vacant) |\n| service teams | {} |\n| area | {:.1} km² |\n",
        opts.buildings,
        opts.seed,
        if opts.english_addresses {
            ""
        } else {
            " --no-english-addresses"
        },
        plan.nx,
        plan.ny,
        s.roads,
        s.sub_districts,
        s.neighborhoods,
        s.building_groups,
        s.building_grids,
        s.buildings,
        s.addresses,
        s.lane_addresses,
        s.people,
        s.leader_roles,
        s.vacant_roles,
        s.teams,
        s.area_km2,
    )
}

impl Writer<'_> {
    fn road(&self, k: u32) -> &names::Road {
        &self.plan.roads.roads[k as usize]
    }

    fn tile(&mut self, ti: usize, tj: usize) -> &mut Tile {
        if !self.tiles.contains_key(&(ti, tj)) {
            let plan = self.plan;
            let span = plan.district_span;
            let district = (tj / span) * plan.district_cols + ti / span;
            let numbers = district_numbers();
            let dd = numbers[district.min(numbers.len() - 1)];
            let street = (tj % span) * span + ti % span + 1;
            let code = format!("3101{dd:02}{street:03}");
            // Named after a road through it: the middle east–west road first.
            let mut candidates = Vec::new();
            let (i0, j0) = (ti * TILE, tj * TILE);
            let mid_i = (i0 + TILE / 2).min(plan.nx - 1);
            let mid_j = (j0 + TILE / 2).min(plan.ny - 1);
            for dj in [TILE / 2, 2, 6, 4, 0, 8, 1, 3, 5, 7] {
                let line = (j0 + dj).min(plan.ny);
                let l = &plan.roads.ew[line];
                candidates.push(l.roads[l.section(mid_i)]);
                let line = (i0 + dj).min(plan.nx);
                let l = &plan.roads.ns[line];
                candidates.push(l.roads[l.section(mid_j)]);
            }
            let mut chosen = None;
            for &r in &candidates {
                let name = format!("{}街道", self.road(r).name);
                if !self.used_tile_names.contains(&name) {
                    chosen = Some((name, r));
                    break;
                }
            }
            let (name, r) = chosen.unwrap_or_else(|| {
                let r = candidates[0];
                let mut k = 2;
                loop {
                    let name = format!("{}第{}街道", self.road(r).name, names::zh_number(k));
                    if !self.used_tile_names.contains(&name) {
                        break (name, r);
                    }
                    k += 1;
                }
            });
            self.used_tile_names.insert(name.clone());
            let name_en = format!("{} Sub-district", self.road(r).english);
            self.summary.sub_districts += 1;
            self.tiles.insert(
                (ti, tj),
                Tile {
                    code,
                    name,
                    name_en,
                    neighborhoods: 0,
                    teams: 0,
                    open_team: None,
                },
            );
        }
        self.tiles.get_mut(&(ti, tj)).expect("inserted above")
    }

    fn person(&mut self, role: &str) -> Result<String, GenerateError> {
        self.people += 1;
        let n = self.people;
        let id = format!("P{n:0w$}", w = self.id_width + 1);
        let mut r = Rng::new(self.plan.seed, Tag::People, n, 0);
        let name = format!("{}{}", r.pick(names::SURNAMES), r.pick(names::GIVEN));
        let line = format!(
            "{id},{name},021-5555-{:04},{}.{role}@example.org\n",
            n % 10_000,
            id.to_lowercase()
        );
        self.files.people.write(&line)?;
        self.summary.people += 1;
        Ok(id)
    }

    fn leader(
        &mut self,
        code: &str,
        role: &str,
        person: Option<&str>,
    ) -> Result<(), GenerateError> {
        match person {
            Some(p) => {
                self.summary.leader_roles += 1;
                self.files.leaders.write(&format!("{code},{role},{p}\n"))
            }
            None => {
                self.summary.vacant_roles += 1;
                Ok(())
            }
        }
    }

    fn team(&mut self, name: String, codes: Vec<String>, members: usize, r: &mut Rng) -> usize {
        let id = format!("T{:04}", self.teams.len() + 1);
        let mut specialties: Vec<usize> = (0..names::SPECIALTIES.len()).collect();
        r.shuffle(&mut specialties);
        let members = specialties[..members.min(specialties.len())]
            .iter()
            .map(|&s| {
                self.members += 1;
                let (specialty, departments) = names::SPECIALTIES[s];
                MemberJson {
                    name: format!("{}演示", r.pick(names::SURNAMES)),
                    department: (*r.pick(departments)).to_string(),
                    specialty: specialty.to_string(),
                    phone: format!("021-5555-{:04}", (self.members * 7919) % 10_000),
                }
            })
            .collect();
        self.teams.push(TeamJson {
            id,
            name,
            grid_codes: codes,
            members,
        });
        self.teams.len() - 1
    }

    /// One neighborhood grid of one block or two side by side, with everything in it.
    fn neighborhood(&mut self, blocks: &[Block]) -> Result<(), GenerateError> {
        let plan = self.plan;
        let (bi, bj) = (blocks[0].i, blocks[0].j);
        let key = ((bi as u64) << 32) | bj as u64;
        let mut rng = Rng::new(plan.seed, Tag::Buildings, key, 0);
        let mut lrng = Rng::new(plan.seed, Tag::People, key, 1);
        let mut trng = Rng::new(plan.seed, Tag::Teams, key, 0);
        let tile = self.tile(bi / TILE, bj / TILE);
        tile.neighborhoods += 1;
        let nn = tile.neighborhoods;
        let n_code = format!("{}{nn:02}", tile.code);
        let n_name = format!("{} 第{nn}街区网格", tile.name);
        let n_name_en = format!("{}, Neighborhood {nn}", tile.name_en);
        let ring = match blocks {
            [one] => {
                let mut r = Vec::new();
                push_block_ring(&mut r, &one.corners, &one.sides);
                r
            }
            [west, east, ..] => merged_ring(west, east),
            [] => return Ok(()),
        };
        self.summary.neighborhoods += 1;
        self.summary.blocks += blocks.len() as u64;
        self.summary.area_km2 += layout::ring_area(&ring) / 1e6;
        self.grid_feature(&n_code, &n_name, &n_name_en, "neighborhood", None, &[&ring])?;
        let c = self.person("convener")?;
        self.leader(&n_code, "bac_convener", Some(&c))?;
        let p = self.person("party")?;
        self.leader(&n_code, "party_worker", Some(&p))?;
        // Neighborhood team: one team for 1–3 neighborhoods of a sub-district.
        let tile = self.tile(bi / TILE, bj / TILE);
        match tile.open_team {
            Some((team, left)) if left > 0 => {
                tile.open_team = Some((team, left - 1));
                self.teams[team].grid_codes.push(n_code.clone());
            }
            _ => {
                tile.teams += 1;
                let name = format!(
                    "{}首席服务团队（第{}组）",
                    tile.name,
                    names::zh_number(tile.teams)
                );
                let size = trng.int(3, 5) as usize;
                let more = trng.int(0, 2);
                let team = self.team(name, vec![n_code.clone()], size, &mut trng);
                self.tile(bi / TILE, bj / TILE).open_team = Some((team, more));
            }
        }

        let mut g_seq = 0u32;
        for block in blocks {
            let addresses = block_addresses(plan, block);
            let is_last = (block.i, block.j) == plan.last;
            let mut taken = 0usize;
            for (g, group) in block.groups.iter().enumerate() {
                g_seq += 1;
                let g_code = format!("{n_code}{g_seq:02}");
                let mut recs = Vec::new();
                for (k, parcel) in group.parcels.iter().enumerate() {
                    if is_last && taken >= plan.last_take {
                        break;
                    }
                    taken += 1;
                    recs.push(self.building(parcel, &addresses[g][k], &mut rng));
                }
                // Named after its biggest building.
                let main = recs
                    .iter()
                    .max_by(|a, b| a.floor_area.total_cmp(&b.floor_area));
                let (g_name, g_name_en) = match main {
                    Some(b) => (
                        format!("{}楼宇群网格", b.name),
                        format!("{} Building Group", b.name_en),
                    ),
                    None => (
                        format!("{n_name} 第{g_seq}楼宇群网格"),
                        format!("{n_name_en}, Building Group {g_seq}"),
                    ),
                };
                let group_team = main.map(|b| format!("{}楼宇首席服务专班", b.name));
                let employees: u32 = recs.iter().map(|b| b.employees).sum();
                self.summary.building_groups += 1;
                self.grid_feature(
                    &g_code,
                    &g_name,
                    &g_name_en,
                    "building_group",
                    Some(&n_code),
                    &[&group.ring],
                )?;
                let gc = if lrng.chance(0.92) {
                    Some(self.person("convener")?)
                } else {
                    None
                };
                self.leader(&g_code, "bac_convener", gc.as_deref())?;
                let gp = if lrng.chance(0.92) {
                    Some(self.person("party")?)
                } else {
                    None
                };
                self.leader(&g_code, "party_worker", gp.as_deref())?;
                if employees >= 6_000
                    && trng.chance(0.5)
                    && let Some(name) = group_team
                {
                    let size = trng.int(2, 4) as usize;
                    self.team(name, vec![g_code.clone()], size, &mut trng);
                }
                for (b_seq, rec) in recs.iter().enumerate() {
                    let b_code = format!("{g_code}{:03}", b_seq + 1);
                    self.summary.building_grids += 1;
                    self.grid_feature(
                        &b_code,
                        &format!("{}楼宇网格", rec.name),
                        &format!("{} Building Grid", rec.name_en),
                        "building",
                        Some(&g_code),
                        &[&rec.parcel.quad],
                    )?;
                    self.building_feature(rec, &b_code)?;
                    let bc = if lrng.chance(0.9) {
                        Some(self.person("convener")?)
                    } else {
                        None
                    };
                    self.leader(&b_code, "bac_convener", bc.as_deref())?;
                    let bp = if rec.employees >= 1_500 && lrng.chance(0.95) {
                        Some(self.person("party")?)
                    } else if lrng.chance(0.97) {
                        gp.clone()
                    } else {
                        None
                    };
                    self.leader(&b_code, "party_worker", bp.as_deref())?;
                }
            }
        }
        Ok(())
    }

    fn building(&mut self, parcel: &Parcel, addrs: &[Addr], rng: &mut Rng) -> BuildingRec {
        self.buildings += 1;
        let seq = self.buildings;
        let id = format!("B{seq:0w$}", w = self.id_width);
        let &(suffix, suffix_en, usage) = rng.pick(names::SUFFIXES);
        let &(word, word_en) = rng.pick(names::NAME_WORDS);
        let big = usage == Use::Mall || rng.chance(0.08);
        let fp = footprint(parcel, big, rng);
        let road = addrs.first().map(|a| self.road(a.road));
        let (name, name_en) = match road {
            Some(r) => (
                format!("{}{word}{suffix}", r.base),
                format!("{} {word_en} {suffix_en}", r.base_en),
            ),
            None => (format!("{word}{suffix}"), format!("{word_en} {suffix_en}")),
        };
        let aliases = vec![format!("{word}{suffix}"), format!("Building {seq}")];
        let mut addresses: Vec<String> = addrs
            .iter()
            .map(|a| render_zh(self.road(a.road), a))
            .collect();
        self.summary.addresses += addrs.len() as u64;
        self.summary.lane_addresses += addrs.iter().filter(|a| a.lane.is_some()).count() as u64;
        if self.opts.english_addresses
            && let Some(a) = addrs.first()
        {
            let en = NormalizedAddress {
                road: self.road(a.road).key.clone(),
                lane: a.lane,
                number: a.number,
                sub: None,
            };
            addresses.push(en.english());
        }
        // Height and use decide the workload.
        let floors = match usage {
            Use::Office => rng.lognormal(14.0, 0.6, 3.0, 66.0),
            Use::Mall => rng.range(3.0, 9.0),
            Use::Hotel => rng.lognormal(16.0, 0.4, 5.0, 45.0),
            Use::Apartment => rng.lognormal(12.0, 0.4, 4.0, 33.0),
            Use::Park => rng.range(2.0, 6.0),
        }
        .round();
        let floor_area = ((fp.area * floors * rng.range(0.85, 1.0)) / 10.0).round() * 10.0;
        let (per_enterprise, per_employee) = match usage {
            Use::Office => (rng.range(350.0, 1400.0), rng.range(10.0, 22.0)),
            Use::Mall => (rng.range(250.0, 900.0), rng.range(35.0, 80.0)),
            Use::Hotel => (f64::INFINITY, rng.range(70.0, 130.0)),
            Use::Apartment => (rng.range(1500.0, 5000.0), rng.range(120.0, 400.0)),
            Use::Park => (rng.range(250.0, 900.0), rng.range(14.0, 35.0)),
        };
        let occupancy = rng.range(0.55, 1.0);
        let enterprises = if usage == Use::Hotel {
            rng.int(1, 4)
        } else {
            ((floor_area * occupancy / per_enterprise).round() as u32).max(1)
        };
        let employees = ((floor_area * occupancy / per_employee).round() as u32).max(enterprises);
        let party_members = (employees as f64 * rng.range(0.02, 0.085)).round() as u32;
        self.summary.buildings += 1;
        BuildingRec {
            parcel: parcel.clone(),
            id,
            name,
            name_en,
            aliases,
            addresses,
            footprint: fp,
            enterprises,
            employees,
            party_members,
            floor_area,
        }
    }

    fn grid_feature(
        &mut self,
        code: &str,
        name: &str,
        name_en: &str,
        level: &str,
        parent: Option<&str>,
        rings: &[&[Pt]],
    ) -> Result<(), GenerateError> {
        let p = &mut self.props;
        p.clear();
        p.push_str("{\"code\":");
        push_str(p, code);
        p.push_str(",\"name\":");
        push_str(p, name);
        p.push_str(",\"name_en\":");
        push_str(p, name_en);
        p.push_str(",\"level\":");
        push_str(p, level);
        p.push_str(",\"parent_code\":");
        match parent {
            Some(c) => push_str(p, c),
            None => p.push_str("null"),
        }
        p.push_str(",\"valid_from\":");
        push_str(p, VALID_FROM);
        p.push('}');
        self.buf.clear();
        push_polygon(&mut self.buf, rings, &self.plan.proj);
        self.files.grids.feature(&self.props, &self.buf)
    }

    fn building_feature(&mut self, b: &BuildingRec, grid: &str) -> Result<(), GenerateError> {
        let p = &mut self.props;
        p.clear();
        p.push_str("{\"id\":");
        push_str(p, &b.id);
        p.push_str(",\"name\":");
        push_str(p, &b.name);
        p.push_str(",\"name_en\":");
        push_str(p, &b.name_en);
        p.push_str(",\"aliases\":");
        push_str_list(p, &b.aliases);
        p.push_str(",\"addresses\":");
        push_str_list(p, &b.addresses);
        p.push_str(",\"grid_code\":");
        push_str(p, grid);
        let _ = write!(
            p,
            ",\"enterprises\":{},\"employees\":{},\"party_members\":{},\"floor_area_m2\":{:.1}}}",
            b.enterprises, b.employees, b.party_members, b.floor_area
        );
        self.buf.clear();
        let mut rings: Vec<&[Pt]> = vec![&b.footprint.exterior];
        if let Some(h) = &b.footprint.hole {
            rings.push(h);
        }
        push_polygon(&mut self.buf, &rings, &self.plan.proj);
        self.files.buildings.feature(&self.props, &self.buf)
    }
}
