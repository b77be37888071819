//! The geometry half of the snapshot: grids and footprints in R-trees, plus the address index.
//! It is rebuilt only when geometry or buildings change, never for a leader edit.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Coord, CoordinatePosition, MultiPolygon, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RStarInsertionStrategy, RTree, RTreeParams};

use crate::address::{AddressIndex, AddressIndexBuilder};
use crate::geometry::flat::{Shape, Shapes};
use crate::geometry::interior::interior_point;
use crate::geometry::measure::{self, Probe};
use crate::model::{Building, Grid, GridLevel, Workload};

use super::cells::{CellIndex, CellParams, CellStats, Feature};
use super::tables::{Cursor, KeyIndex, Lists, keys_of};
use super::texts::{TextRange, TextRows, TextTable};

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;
type Tree = RTree<Entry, WideNodes>;

/// Nodes of up to 24 entries instead of rstar's 6: a city-sized tree is then four levels
/// deep instead of eight, and a lookup, bound by cache misses, touches half as many nodes.
pub struct WideNodes;

impl RTreeParams for WideNodes {
    const MIN_SIZE: usize = 8;
    const MAX_SIZE: usize = 24;
    const REINSERTION_COUNT: usize = 6;
    type DefaultInsertionStrategy = RStarInsertionStrategy;
}

/// What a current grid version holds besides its texts, with its place in the hierarchy
/// resolved to indices. [`Spatial::grid`] gives the whole grid.
//
// The code and names are held in one text buffer (`Spatial::grid_texts`), the geometry and
// its box beside the entries (`Spatial::grid_shape`, `Spatial::grid_bbox`): lookups read those
// for many grids, and little else of each.
#[derive(Debug, Clone)]
pub struct GridEntry {
    pub level: GridLevel,
    /// The parent grid; its code is [`Spatial::parent_code`].
    pub parent: Option<u32>,
    pub valid_from: DateTime<Utc>,
}

/// A current grid version, borrowed from the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct GridView<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub name_en: Option<&'a str>,
    pub level: GridLevel,
    /// The parent grid; its code is [`Spatial::parent_code`].
    pub parent: Option<u32>,
    pub valid_from: DateTime<Utc>,
}

/// Positions of a grid's strings in its row of `Spatial::grid_texts`.
const GRID_CODE: usize = 0;
const GRID_NAME: usize = 1;
const GRID_NAME_EN: usize = 2;

/// What a building holds besides its texts and footprint. [`Spatial::building`] gives the
/// building with its texts, [`Spatial::building_data`] the whole building.
//
// The texts (id, names, addresses, aliases) are held in one buffer (`Spatial::building_texts`)
// and the footprint in a flat store (`Spatial::footprint`): lookups read many footprints and
// little else of a building.
#[derive(Debug, Clone)]
pub struct BuildingEntry {
    pub workload: Workload,
    /// Index of the grid the building belongs to.
    pub grid: Option<u32>,
    /// How many of the strings of the building's row of lists are addresses.
    addresses: u32,
    /// A point inside the footprint, used as the building's location.
    pub anchor: Coord<f64>,
}

/// A building, borrowed from the snapshot (without its footprint: [`Spatial::footprint`]).
#[derive(Debug, Clone, Copy)]
pub struct BuildingView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub name_en: Option<&'a str>,
    /// Street addresses as written; the first is the main one.
    pub addresses: TextRange<'a>,
    pub aliases: TextRange<'a>,
    pub workload: Workload,
    /// Index of the grid the building belongs to.
    pub grid: Option<u32>,
    /// A point inside the footprint, used as the building's location.
    pub anchor: Coord<f64>,
}

/// Positions of a building's strings in its row of `Spatial::building_texts`.
const BUILDING_ID: usize = 0;
const BUILDING_NAME: usize = 1;
const BUILDING_NAME_EN: usize = 2;
/// The grid code as stored, kept only when it names no current grid (else `grid` says it).
const BUILDING_GRID_CODE: usize = 3;

/// A grid and its ancestors, innermost first, held inline.
#[derive(Debug, Clone, Copy)]
pub struct Chain {
    grids: [u32; GridLevel::ALL.len()],
    len: usize,
}

impl std::ops::Deref for Chain {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        &self.grids[..self.len]
    }
}

/// Where a point falls: the innermost grid by the border rule, and how it was decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointHit {
    pub grid: u32,
    /// True when the point lies exactly on the border of the chosen grid.
    pub on_border: bool,
}

pub struct Spatial {
    pub grids: Vec<GridEntry>,
    /// Per grid: its code, name and English name ([`GRID_CODE`] …).
    grid_texts: TextTable<3>,
    /// The grids' geometries, by grid position.
    shapes: Shapes,
    /// The grids' bounding boxes, by grid position.
    boxes: Vec<Rect<f64>>,
    /// Parent codes that name no current grid, by grid position (rare: data under repair).
    /// A resolved parent's code is its grid's, not stored twice.
    unresolved_parents: Vec<(u32, String)>,
    pub buildings: Vec<BuildingEntry>,
    /// Per building: its id, names and unresolved grid code ([`BUILDING_ID`] …).
    building_texts: TextTable<4>,
    /// Per building: its addresses, then its aliases.
    building_lists: TextRows,
    /// The buildings' footprints, by building position.
    footprints: Shapes,
    grid_by_code: KeyIndex,
    /// Per grid: its child grids, in code order.
    children: Lists,
    /// Per grid: the buildings attached to it, in id order.
    buildings_of_grid: Lists,
    building_by_id: KeyIndex,
    /// One R-tree per level, outermost first, and one of the footprints: the lookups of data
    /// the cell index refuses (built with the snapshot then) and the references of tests and
    /// benches (built when first asked). With a cell index no request needs them, and at city
    /// scale they would hold some 90 MB.
    level_trees: OnceLock<[Tree; 3]>,
    building_tree: OnceLock<Tree>,
    /// Point location: ranks 0..3 are the grid levels deepest first, rank 3 the footprints.
    /// `None` only for data it refuses (non-finite coordinates): the R-trees answer then.
    cells: Option<CellIndex>,
    pub addresses: AddressIndex,
    /// Addresses that could not be understood, as (building id, address, reason).
    pub address_warnings: Vec<(String, String, String)>,
}

fn envelope(r: Rect<f64>, i: u32) -> Entry {
    GeomWithData::new(
        Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
        i,
    )
}

/// What [`building_entries`] makes of the buildings.
struct BuildingTables {
    texts: TextTable<4>,
    lists: TextRows,
    footprints: Shapes,
    entries: Vec<BuildingEntry>,
}

/// The buildings' texts and footprints in their flat stores, and what else each holds, with
/// its grid and anchor from `located`.
fn building_entries(
    buildings: &[Building],
    located: Vec<(Option<u32>, Coord<f64>)>,
) -> BuildingTables {
    let (mut head_bytes, mut list_bytes, mut list_strings) = (0, 0, 0);
    for b in buildings {
        head_bytes += b.id.len() + b.name.len() + b.name_en.as_ref().map_or(0, String::len);
        list_strings += b.addresses.len() + b.aliases.len();
        list_bytes += b
            .addresses
            .iter()
            .chain(&b.aliases)
            .map(String::len)
            .sum::<usize>();
    }
    let mut texts = TextTable::with_capacity(buildings.len(), head_bytes);
    let mut lists = TextRows::with_capacity(buildings.len(), list_strings, list_bytes);
    let mut footprints = Shapes::with_capacity(
        buildings.len(),
        coordinate_count(buildings.iter().map(|b| &b.footprint)),
    );
    let entries = buildings
        .iter()
        .zip(located)
        .map(|(b, (grid, anchor))| {
            footprints.push(&b.footprint);
            // The grid code is kept only when it names no grid: else the grid's own says it.
            let unresolved = b.grid_code.as_deref().filter(|_| grid.is_none());
            texts.push([
                Some(b.id.as_str()),
                Some(b.name.as_str()),
                b.name_en.as_deref(),
                unresolved,
            ]);
            lists.push(
                b.addresses
                    .iter()
                    .chain(&b.aliases)
                    .map(|s| Some(s.as_str())),
            );
            BuildingEntry {
                workload: b.workload,
                grid,
                addresses: u32::try_from(b.addresses.len()).unwrap_or(u32::MAX),
                anchor,
            }
        })
        .collect();
    BuildingTables {
        texts,
        lists,
        footprints,
        entries,
    }
}

/// One R-tree of grid boxes per level, outermost first (grid positions as data).
fn level_trees_of(grids: &[GridEntry], boxes: &[Rect<f64>]) -> [Tree; 3] {
    GridLevel::ALL.map(|level| {
        RTree::bulk_load_with_params(
            grids
                .iter()
                .zip(boxes)
                .enumerate()
                .filter(|(_, (g, _))| g.level == level)
                .map(|(i, (_, &bbox))| envelope(bbox, i as u32))
                .collect(),
        )
    })
}

/// Whether box `b` meets the closed `window` (what the R-trees' envelope query tests).
#[inline]
fn box_meets(b: &Rect<f64>, window: &AABB<[f64; 2]>) -> bool {
    let (lo, hi) = (window.lower(), window.upper());
    b.min().x <= hi[0] && b.min().y <= hi[1] && b.max().x >= lo[0] && b.max().y >= lo[1]
}

/// The R-tree of footprint boxes (positions in the building list as data).
fn footprint_tree(boxes: &[Rect<f64>]) -> Tree {
    RTree::bulk_load_with_params(
        boxes
            .iter()
            .enumerate()
            .map(|(i, &r)| envelope(r, i as u32))
            .collect(),
    )
}

/// The box of a shape without coordinates.
fn empty_rect() -> Rect<f64> {
    Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 })
}

fn rect_of(mp: &MultiPolygon<f64>) -> Rect<f64> {
    mp.bounding_rect().unwrap_or_else(empty_rect)
}

/// Position of a point against a (multi)polygon: inside, on its border, or outside.
pub fn position(mp: &MultiPolygon<f64>, lon: f64, lat: f64) -> CoordPos {
    mp.coordinate_position(&Coord { x: lon, y: lat })
}

/// The address index over the buildings' addresses, names and aliases, with the addresses it
/// could not understand as (building id, address, reason).
type AddressWarnings = Vec<(String, String, String)>;

fn address_index(buildings: &[Building]) -> (AddressIndex, AddressWarnings) {
    // Names and addresses fill separate tables: the names are indexed on a thread of their
    // own (the index is the same as from one builder taking both).
    std::thread::scope(|scope| {
        let names = scope.spawn(|| {
            let mut phase = super::Phases::start();
            let (mut names, mut name_bytes) = (0, 0);
            for b in buildings {
                for name in std::iter::once(&b.name).chain(&b.name_en).chain(&b.aliases) {
                    names += 1;
                    name_bytes += name.len();
                }
            }
            let mut builder = AddressIndexBuilder::new();
            builder.reserve(0, names, name_bytes);
            for (i, b) in buildings.iter().enumerate() {
                builder.add_name(&b.name, i as u32);
                if let Some(en) = &b.name_en {
                    builder.add_name(en, i as u32);
                }
                for alias in &b.aliases {
                    builder.add_name(alias, i as u32);
                }
            }
            phase.mark("names (thread of their own)");
            let index = builder.build();
            phase.mark("names build()");
            index
        });
        let mut phase = super::Phases::start();
        let mut builder = AddressIndexBuilder::new();
        builder.reserve(buildings.iter().map(|b| b.addresses.len()).sum(), 0, 0);
        let mut warnings = Vec::new();
        for (i, b) in buildings.iter().enumerate() {
            for a in &b.addresses {
                if let Err(e) = builder.add_address(a, i as u32) {
                    warnings.push((b.id.clone(), a.clone(), e.to_string()));
                }
            }
        }
        phase.mark("addresses");
        let index = builder.build();
        phase.mark("addresses build()");
        let index = match names.join() {
            Ok(names) => index.with_names_of(names),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        phase.mark("waiting for the names");
        (index, warnings)
    })
}

/// A nearby-grid question: the point, the tolerance, the point's chain and its distance to
/// the innermost grid's border, and whether the cell index may answer.
struct Near<'a> {
    probe: Probe,
    tolerance_m: f64,
    chain: &'a [u32],
    inner_border_m: f64,
    /// The cells to scan, when the cell index may answer: see [`Spatial::cell_window`].
    cell_window: Option<CellWindow>,
}

/// Corners of the closed rectangle of cells scanned for a nearby-grid question.
#[derive(Clone, Copy)]
struct CellWindow {
    lo: Coord<f64>,
    hi: Coord<f64>,
}

/// Cells a nearby-grid window may span before the R-tree is asked instead.
const MAX_WINDOW_CELLS: usize = 64;
/// Widens the cell scan for nearby grids: `measure::distance_m` counts distances under a
/// micrometre as zero, so a grid that close must be found even outside the window.
const SNAP_MARGIN_M: f64 = 1e-3;

/// The cell index's rank of a grid level (deepest first).
fn level_rank(level: GridLevel) -> u32 {
    (GridLevel::ALL.len() - 1 - level.depth()) as u32
}

/// The cell index's rank of building footprints, after the three grid levels.
const FOOTPRINT_RANK: u32 = GridLevel::ALL.len() as u32;

/// The number of coordinates of all the multipolygons.
fn coordinate_count<'a>(geometries: impl IntoIterator<Item = &'a MultiPolygon<f64>>) -> usize {
    geometries
        .into_iter()
        .flat_map(|mp| &mp.0)
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|h| h.0.len()).sum::<usize>())
        .sum()
}

/// The grids' geometries in flat arrays, in grid order.
fn flat_shapes(geometries: &[MultiPolygon<f64>]) -> Shapes {
    let mut shapes = Shapes::with_capacity(geometries.len(), coordinate_count(geometries));
    for mp in geometries {
        shapes.push(mp);
    }
    shapes
}

/// The cell index over the grids (one rank per level, deepest first) and the footprints; on
/// data it refuses, a warning and `None` (the R-trees then answer point lookups).
fn cell_index(
    grids: &[GridEntry],
    geometries: &[MultiPolygon<f64>],
    boxes: &[Rect<f64>],
    buildings: &[Building],
    footprint_boxes: &[Rect<f64>],
) -> Option<CellIndex> {
    let mut ranks: Vec<Vec<Feature<'_>>> = vec![Vec::new(); GridLevel::ALL.len() + 1];
    for (i, ((g, geometry), &bbox)) in grids.iter().zip(geometries).zip(boxes).enumerate() {
        ranks[GridLevel::ALL.len() - 1 - g.level.depth()].push(Feature {
            index: i as u32,
            geometry,
            bbox,
        });
    }
    ranks[FOOTPRINT_RANK as usize] = buildings
        .iter()
        .zip(footprint_boxes)
        .enumerate()
        .map(|(i, (b, &bbox))| Feature {
            index: i as u32,
            geometry: &b.footprint,
            bbox,
        })
        .collect();
    match CellIndex::build(&ranks, GridLevel::ALL.len(), CellParams::default()) {
        Ok(cells) => {
            tracing::debug!(stats = ?cells.stats(), "cell index");
            Some(cells)
        }
        Err(e) => {
            tracing::warn!(error = %e, "no cell index; point lookups use the R-trees");
            None
        }
    }
}

/// What [`Spatial::build_with`] builds beside the address index (see its fields in
/// [`Spatial`]), with each building's grid and anchor and the result of `alongside`.
struct GridsAndTrees<R> {
    grids: Vec<GridEntry>,
    grid_texts: TextTable<3>,
    shapes: Shapes,
    boxes: Vec<Rect<f64>>,
    unresolved_parents: Vec<(u32, String)>,
    grid_by_code: KeyIndex,
    level_trees: OnceLock<[Tree; 3]>,
    located: Vec<(Option<u32>, Coord<f64>)>,
    building_tree: OnceLock<Tree>,
    cells: Option<CellIndex>,
    alongside: R,
}

/// Grid positions by code, for what is built alongside the spatial half (the roster).
#[derive(Clone, Copy)]
pub struct GridCodes<'a> {
    texts: &'a TextTable<3>,
    by_code: &'a KeyIndex,
}

impl<'a> GridCodes<'a> {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn index(&self, code: &str) -> Option<u32> {
        self.by_code.get(text_keys(self.texts, GRID_CODE), code)
    }

    /// For many lookups in a row, fastest when the codes come in about code order.
    pub fn cursor(&self) -> GridCursor<'a> {
        GridCursor(
            self.by_code
                .cursor(Box::new(text_keys(self.texts, GRID_CODE))),
        )
    }
}

/// String `k` of every row, as keys of a [`KeyIndex`].
fn text_keys<'a, const N: usize>(
    texts: &'a TextTable<N>,
    k: usize,
) -> impl Fn(u32) -> Option<&'a str> + Copy + 'a {
    move |i| texts.get(i as usize, k)
}

/// Grid positions by code, each lookup starting next to the previous answer.
pub struct GridCursor<'a>(Cursor<'a, Box<dyn Fn(u32) -> Option<&'a str> + 'a>>);

impl GridCursor<'_> {
    pub fn index(&mut self, code: &str) -> Option<u32> {
        self.0.get(code)
    }
}

impl Spatial {
    pub fn build(grids: Vec<Grid>, buildings: Vec<Building>) -> Spatial {
        Spatial::build_with(grids, buildings, |_| ()).0
    }

    /// Builds the spatial half and, on the same thread once the grids are indexed, `alongside`
    /// (the roster). The address index, the longest part at city scale, is built on a second
    /// core from the start, while this one indexes the grids, computes the anchors and loads
    /// the R-trees.
    pub fn build_with<R>(
        grids: Vec<Grid>,
        buildings: Vec<Building>,
        alongside: impl FnOnce(GridCodes<'_>) -> R,
    ) -> (Spatial, R) {
        let mut phase = super::Phases::start();
        let mut buildings = buildings;
        buildings.sort_by(|a, b| a.id.cmp(&b.id));
        phase.mark("buildings sorted");

        let (main, addresses) = std::thread::scope(|scope| {
            let buildings = &buildings;
            let index = scope.spawn(move || {
                let mut phase = super::Phases::start();
                let built = address_index(buildings);
                phase.mark("address index (thread of its own)");
                built
            });
            let main = Self::build_grids_and_trees(grids, buildings, alongside, &mut phase);
            let addresses = match index.join() {
                Ok(built) => built,
                // Index building never panics on data; if it ever did, answer without it.
                Err(_) => (AddressIndexBuilder::new().build(), Vec::new()),
            };
            phase.mark("waiting for the address index");
            (main, addresses)
        });
        let GridsAndTrees {
            grids,
            grid_texts,
            shapes,
            boxes,
            unresolved_parents,
            grid_by_code,
            level_trees,
            located,
            building_tree,
            cells,
            alongside,
        } = main;
        let (addresses, address_warnings) = addresses;

        let building_by_id =
            KeyIndex::build(buildings.len(), keys_of(&buildings, |b| b.id.as_str()));
        phase.mark("building_by_id");
        let BuildingTables {
            texts: building_texts,
            lists: building_lists,
            footprints,
            entries,
        } = building_entries(&buildings, located);
        drop(buildings);
        let buildings = entries;
        let children = Lists::group(
            grids.len(),
            &grids.iter().map(|g| g.parent).collect::<Vec<_>>(),
        );
        let buildings_of_grid = Lists::group(
            grids.len(),
            &buildings.iter().map(|b| b.grid).collect::<Vec<_>>(),
        );
        phase.mark("building entries, children, buildings_of_grid");

        (
            Spatial {
                grids,
                grid_texts,
                shapes,
                boxes,
                unresolved_parents,
                buildings,
                building_texts,
                building_lists,
                footprints,
                grid_by_code,
                children,
                buildings_of_grid,
                building_by_id,
                level_trees,
                building_tree,
                cells,
                addresses,
                address_warnings,
            },
            alongside,
        )
    }

    /// The part of a build beside the address index: grid entries and their index by code,
    /// each building's grid and anchor, the level R-trees, the cell index (the footprint R-tree
    /// only without one), then `alongside`.
    fn build_grids_and_trees<R>(
        grids: Vec<Grid>,
        buildings: &[Building],
        alongside: impl FnOnce(GridCodes<'_>) -> R,
        phase: &mut super::Phases,
    ) -> GridsAndTrees<R> {
        // The current versions in code order (a stable sort: equal codes keep their order).
        // Their positions are sorted, not the grids: a grid is large, and a stable sort of
        // input sorted in runs would move every one of them several times.
        let mut order: Vec<(&str, u32)> = grids
            .iter()
            .enumerate()
            .filter(|(_, g)| g.valid_to.is_none())
            .map(|(i, g)| (g.code.as_str(), i as u32))
            .collect();
        order.sort_by(|a, b| a.0.cmp(b.0));
        phase.mark("grids sorted");
        let grid_by_code = KeyIndex::build(order.len(), keys_of(&order, |o| o.0));
        let mut by_code = grid_by_code.cursor(keys_of(&order, |o| o.0));
        let parents: Vec<Option<u32>> = order
            .iter()
            .map(|&(_, i)| {
                grids[i as usize]
                    .parent_code
                    .as_ref()
                    .and_then(|p| by_code.get(p))
            })
            .collect();
        drop(by_code); // its borrow of `order` ends here
        let order: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
        phase.mark("grid_by_code, parents");
        // Sized up front: `filter_map` gives no exact length, and growing a vector of a million
        // entries by doubling copies it into fresh memory several times.
        let mut entries = Vec::with_capacity(order.len());
        let text_bytes = order
            .iter()
            .filter_map(|&i| grids.get(i as usize))
            .map(|g| g.code.len() + g.name.len() + g.name_en.as_ref().map_or(0, String::len))
            .sum();
        let mut grid_texts = TextTable::with_capacity(order.len(), text_bytes);
        let mut geometries = Vec::with_capacity(order.len());
        let mut boxes = Vec::with_capacity(order.len());
        let mut unresolved_parents = Vec::new();
        let mut slots: Vec<Option<Grid>> = grids.into_iter().map(Some).collect();
        for (&i, parent) in order.iter().zip(parents) {
            let Some(g) = slots.get_mut(i as usize).and_then(Option::take) else {
                continue;
            };
            if let (None, Some(code)) = (parent, g.parent_code) {
                unresolved_parents.push((entries.len() as u32, code));
            }
            boxes.push(rect_of(&g.geometry));
            grid_texts.push([Some(g.code.as_str()), Some(&g.name), g.name_en.as_deref()]);
            entries.push(GridEntry {
                parent,
                level: g.level,
                valid_from: g.valid_from,
            });
            geometries.push(g.geometry);
        }
        let grids: Vec<GridEntry> = entries;
        drop(slots);
        phase.mark("grid entries (bbox)");
        let codes = GridCodes {
            texts: &grid_texts,
            by_code: &grid_by_code,
        };
        let mut by_code = codes.cursor();
        let located: Vec<(Option<u32>, Coord<f64>)> = buildings
            .iter()
            .map(|b| {
                let grid = b.grid_code.as_ref().and_then(|c| by_code.index(c));
                let anchor = interior_point(&b.footprint)
                    .map(|p| p.0)
                    .unwrap_or_else(|| rect_of(&b.footprint).center());
                (grid, anchor)
            })
            .collect();
        drop(by_code); // its borrow of `grid_texts` ends here
        phase.mark("building grids and anchors");
        let footprint_boxes: Vec<Rect<f64>> =
            buildings.iter().map(|b| rect_of(&b.footprint)).collect();
        let cells = cell_index(&grids, &geometries, &boxes, buildings, &footprint_boxes);
        phase.mark("cell index");
        let shapes = flat_shapes(&geometries);
        drop(geometries);
        phase.mark("flat shapes");
        // Without a cell index the R-trees answer every lookup: built now, not on a request.
        let (level_trees, building_tree) = (OnceLock::new(), OnceLock::new());
        if cells.is_none() {
            let _ = level_trees.set(level_trees_of(&grids, &boxes));
            let _ = building_tree.set(footprint_tree(&footprint_boxes));
            phase.mark("level and building trees");
        }
        let alongside = alongside(codes);
        phase.mark("alongside (roster)");
        GridsAndTrees {
            grids,
            grid_texts,
            shapes,
            boxes,
            unresolved_parents,
            grid_by_code,
            level_trees,
            located,
            building_tree,
            cells,
            alongside,
        }
    }

    /// Grid positions by code.
    pub fn grid_codes(&self) -> GridCodes<'_> {
        GridCodes {
            texts: &self.grid_texts,
            by_code: &self.grid_by_code,
        }
    }

    pub fn grid_index(&self, code: &str) -> Option<u32> {
        self.grid_codes().index(code)
    }

    pub fn children(&self, grid: u32) -> &[u32] {
        self.children.get(grid)
    }

    pub fn buildings_of(&self, grid: u32) -> &[u32] {
        self.buildings_of_grid.get(grid)
    }

    pub fn building_index(&self, id: &str) -> Option<u32> {
        self.building_by_id
            .get(text_keys(&self.building_texts, BUILDING_ID), id)
    }

    /// Grid `i` (a position below `grids.len()`).
    pub fn grid(&self, i: u32) -> GridView<'_> {
        let e = &self.grids[i as usize];
        let texts = self.grid_texts.row(i as usize);
        GridView {
            code: texts[GRID_CODE].unwrap_or(""),
            name: texts[GRID_NAME].unwrap_or(""),
            name_en: texts[GRID_NAME_EN],
            level: e.level,
            parent: e.parent,
            valid_from: e.valid_from,
        }
    }

    /// The code of grid `i` alone (an answer names many grids by code only).
    pub fn grid_code(&self, i: u32) -> &str {
        self.grid_texts.text(i as usize, GRID_CODE)
    }

    /// The geometry of grid `i`, as stored for lookups.
    #[inline]
    pub fn grid_shape(&self, i: u32) -> Shape<'_> {
        self.shapes
            .get(i as usize)
            .unwrap_or_else(|| panic!("grid {i} out of range (Spatial invariant)"))
    }

    /// The footprint of building `i`, as stored for lookups.
    #[inline]
    pub fn footprint(&self, i: u32) -> Shape<'_> {
        self.footprints
            .get(i as usize)
            .unwrap_or_else(|| panic!("building {i} out of range (Spatial invariant)"))
    }

    /// Building `i` as plain data, with its footprint and grid code.
    pub fn building_data(&self, i: u32) -> Building {
        let b = self.building(i);
        Building {
            id: b.id.to_string(),
            name: b.name.to_string(),
            name_en: b.name_en.map(str::to_string),
            aliases: b.aliases.to_vec(),
            addresses: b.addresses.to_vec(),
            grid_code: match b.grid {
                Some(g) => Some(self.grid_code(g).to_string()),
                None => self
                    .building_texts
                    .get(i as usize, BUILDING_GRID_CODE)
                    .map(str::to_string),
            },
            footprint: self.footprint(i).to_multi_polygon(),
            workload: b.workload,
        }
    }

    /// The code of grid `i`'s parent, as stored (also when it names no current grid).
    pub fn parent_code(&self, i: u32) -> Option<&str> {
        match self.grid(i).parent {
            Some(p) => Some(self.grid_code(p)),
            None => self
                .unresolved_parents
                .binary_search_by_key(&i, |&(g, _)| g)
                .ok()
                .map(|k| self.unresolved_parents[k].1.as_str()),
        }
    }

    /// The bounding box of grid `i`.
    pub fn grid_bbox(&self, i: u32) -> Rect<f64> {
        self.boxes[i as usize]
    }

    /// The geometry of grid `i` as a `geo::MultiPolygon` (a copy: for output and rules).
    pub fn grid_geometry(&self, i: u32) -> MultiPolygon<f64> {
        self.grid_shape(i).to_multi_polygon()
    }

    /// Metres from the point to the border of grid `i` (inside or outside it).
    pub fn border_distance_m(&self, i: u32, lon: f64, lat: f64) -> f64 {
        Probe::new(lon, lat).map_or(f64::INFINITY, |probe| {
            probe.distance_to_boundary_m(self.grid_shape(i).polygons())
        })
    }

    /// Starts loading the rows an answer reads for these grids and this building (see
    /// [`crate::memory::prefetch`]); [`Spatial::prefetch_texts`] follows once they are in.
    pub fn prefetch_rows(&self, grids: &[u32], building: Option<u32>) {
        for &g in grids {
            self.grid_texts.prefetch_row(g as usize);
        }
        if let Some(b) = building {
            self.building_texts.prefetch_row(b as usize);
            self.building_lists.prefetch_row(b as usize);
        }
    }

    /// Starts loading the texts of these grids and this building.
    pub fn prefetch_texts(&self, grids: &[u32], building: Option<u32>) {
        for &g in grids {
            self.grid_texts.prefetch_text(g as usize);
        }
        if let Some(b) = building {
            self.building_texts.prefetch_text(b as usize);
            self.building_lists.prefetch_text(b as usize);
        }
    }

    /// Building `i` (a position below `buildings.len()`).
    pub fn building(&self, i: u32) -> BuildingView<'_> {
        self.get_building(i)
            .unwrap_or_else(|| panic!("building {i} out of range (Spatial invariant)"))
    }

    /// Building `i`, or `None` past the end.
    pub fn get_building(&self, i: u32) -> Option<BuildingView<'_>> {
        let e = self.buildings.get(i as usize)?;
        let texts = self.building_texts.row(i as usize);
        let lists = self.building_lists.row(i as usize);
        let addresses = e.addresses as usize;
        Some(BuildingView {
            id: texts[BUILDING_ID].unwrap_or(""),
            name: texts[BUILDING_NAME].unwrap_or(""),
            name_en: texts[BUILDING_NAME_EN],
            addresses: lists.range(0, addresses),
            aliases: lists.range(addresses, lists.len()),
            workload: e.workload,
            grid: e.grid,
            anchor: e.anchor,
        })
    }

    /// The border rule: of all grids covering the point (border included), the deepest level
    /// wins; among grids of that level, one whose interior holds the point beats one on whose
    /// border it lies; remaining ties go to the smallest code. Deterministic by construction.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<PointHit> {
        let Some(cells) = &self.cells else {
            return self.locate_by_rtree(lon, lat);
        };
        cells
            .find_chained(lon, lat, |_, i| {
                self.grid_shape(i).position(Coord { x: lon, y: lat })
            })
            .map(|(_, grid, on_border)| PointHit { grid, on_border })
    }

    /// The building whose footprint holds the point (interior beats border, then smallest id).
    pub fn building_at(&self, lon: f64, lat: f64) -> Option<u32> {
        let Some(cells) = &self.cells else {
            return self.building_at_by_rtree(lon, lat);
        };
        cells
            .find_in_rank(lon, lat, FOOTPRINT_RANK, |_, i| {
                self.footprint(i).position(Coord { x: lon, y: lat })
            })
            .map(|(i, _)| i)
    }

    /// The cell index's column and row edges (empty without one), for tests that put points
    /// exactly on them.
    pub fn cell_edges(&self) -> (&[f64], &[f64]) {
        self.cells.as_ref().map_or((&[], &[]), CellIndex::edges)
    }

    /// Size figures of the cell index (`None` when the data made it fall back to R-trees).
    pub fn cell_stats(&self) -> Option<CellStats> {
        self.cells.as_ref().map(CellIndex::stats)
    }

    /// [`Spatial::locate`] by the R-trees, one per level: the reference the cell index must
    /// agree with, kept for tests and benches.
    pub fn locate_by_rtree(&self, lon: f64, lat: f64) -> Option<PointHit> {
        // Deepest level first: the first level with a covering grid decides, so the large
        // outer polygons are tested only for points that no inner grid covers.
        GridLevel::ALL
            .iter()
            .rev()
            .find_map(|&level| self.locate_in_level(level, lon, lat))
    }

    /// Of the grids of one level covering the point: interior beats border, then smallest code.
    fn locate_in_level(&self, level: GridLevel, lon: f64, lat: f64) -> Option<PointHit> {
        let mut best: Option<(bool, u32)> = None;
        for e in self.level_trees()[level.depth()].locate_all_at_point(&[lon, lat]) {
            let i = e.data;
            let on_border = match self.grid_shape(i).position(Coord { x: lon, y: lat }) {
                CoordPos::Inside => false,
                CoordPos::OnBoundary => true,
                CoordPos::Outside => continue,
            };
            // Grids are sorted by code, so a smaller index is a smaller code.
            if best.is_none_or(|b| (on_border, i) < b) {
                best = Some((on_border, i));
            }
        }
        best.map(|(on_border, grid)| PointHit { grid, on_border })
    }

    /// [`Spatial::building_at`] by the footprint R-tree (the reference, for tests and benches).
    pub fn building_at_by_rtree(&self, lon: f64, lat: f64) -> Option<u32> {
        let tree = self.building_tree.get_or_init(|| {
            let boxes: Vec<Rect<f64>> = (0..self.buildings.len() as u32)
                .map(|b| self.footprint(b).bounding_rect().unwrap_or_else(empty_rect))
                .collect();
            footprint_tree(&boxes)
        });
        let mut best: Option<(bool, u32)> = None;
        for e in tree.locate_all_at_point(&[lon, lat]) {
            let i = e.data;
            let on_border = match self.footprint(i).position(Coord { x: lon, y: lat }) {
                CoordPos::Inside => false,
                CoordPos::OnBoundary => true,
                CoordPos::Outside => continue,
            };
            if best.is_none_or(|b| (on_border, i) < b) {
                best = Some((on_border, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The grid and its ancestors, innermost first (no allocation: at most one per level).
    pub fn chain(&self, grid: u32) -> Chain {
        let mut out = Chain {
            grids: [grid; GridLevel::ALL.len()],
            len: 1,
        };
        let mut cur = grid;
        while let Some(p) = self.grids[cur as usize].parent {
            if out.contains(&p) || out.len == out.grids.len() {
                break; // a cycle or over-deep nesting in stored data must not hang a lookup
            }
            out.grids[out.len] = p;
            out.len += 1;
            cur = p;
        }
        out
    }

    /// Grids outside `chain` (the point's grid and its ancestors, innermost first) whose area
    /// lies within `tolerance_m` of the point, nearest first. `inner_border_m` is the point's
    /// distance to the border of the chain's innermost grid, which the caller already has.
    ///
    /// A level's R-tree is asked only when a grid of that level can be that near. Grids of one
    /// level never overlap, so another grid of a level the chain holds is at least as far as
    /// the border of the chain's own grid of that level; grids deeper than the chain lie inside
    /// its innermost grid (then it has children) or beyond that grid's border. Most points
    /// are far from their group's and neighborhood's borders, so most lookups ask one tree.
    pub fn grids_near(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
        chain: &[u32],
        inner_border_m: f64,
    ) -> Vec<(u32, f64)> {
        self.grids_near_with(lon, lat, tolerance_m, chain, inner_border_m, true)
    }

    /// [`Spatial::grids_near`] without the cell index: R-trees for the window, every border
    /// distance computed (the reference, for tests and benches).
    pub fn grids_near_by_rtree(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
        chain: &[u32],
        inner_border_m: f64,
    ) -> Vec<(u32, f64)> {
        self.grids_near_with(lon, lat, tolerance_m, chain, inner_border_m, false)
    }

    fn grids_near_with(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
        chain: &[u32],
        inner_border_m: f64,
        use_cells: bool,
    ) -> Vec<(u32, f64)> {
        let Some(probe) = Probe::new(lon, lat) else {
            return Vec::new(); // nothing is at a finite distance from a non-finite point
        };
        let (dlon, dlat) = measure::degrees_for_metres(lat, tolerance_m);
        let window = AABB::from_corners([lon - dlon, lat - dlat], [lon + dlon, lat + dlat]);
        let mut candidates: Vec<u32> = Vec::with_capacity(32);
        let cell_window = if use_cells {
            self.cell_window(lon, lat, tolerance_m)
        } else {
            None
        };
        let near = Near {
            probe,
            tolerance_m,
            chain,
            inner_border_m,
            cell_window,
        };
        let mut levels = GridLevel::ALL;
        let mut asked = 0;
        for level in GridLevel::ALL {
            if self.level_may_be_near(level, &near) {
                levels[asked] = level;
                asked += 1;
            }
        }
        if asked == 0 {
            return Vec::new();
        }
        let levels = &levels[..asked];
        // One scan of the cells for every level asked.
        let ranks = levels
            .iter()
            .fold(0, |m, &level| m | 1 << level_rank(level));
        let from_cells = cell_window.is_some_and(|w| self.near_by_cells(ranks, w, &mut candidates));
        if !from_cells {
            if use_cells && self.cells.is_some() {
                // A window too wide for the cells: rare, and a pass over the boxes does.
                self.scan_boxes(ranks, &window, &mut candidates);
            } else {
                for level in levels {
                    candidates.extend(
                        self.level_trees()[level.depth()]
                            .locate_in_envelope_intersecting(&window)
                            .map(|e| e.data),
                    );
                }
            }
        }
        self.nearest(candidates, chain, &probe, &window, tolerance_m)
    }

    /// Of the candidates, those outside `chain` within `tolerance_m`, with their distance,
    /// nearest first.
    fn nearest(
        &self,
        mut candidates: Vec<u32>,
        chain: &[u32],
        probe: &Probe,
        window: &AABB<[f64; 2]>,
        tolerance_m: f64,
    ) -> Vec<(u32, f64)> {
        // The R-tree gives each grid whose box meets the window once; cells give a superset
        // of those near enough, with repeats. Filtering again is idempotent for the tree's.
        candidates.sort_unstable();
        candidates.dedup();
        // Each candidate's box is a cache miss of its own at city scale: ask for all at once.
        for &i in &candidates {
            if let Some(b) = self.boxes.get(i as usize..) {
                crate::memory::prefetch(b.as_ptr());
            }
        }
        let mut out: Vec<(u32, f64)> = candidates
            .into_iter()
            .filter(|i| !chain.contains(i))
            .filter(|&i| box_meets(&self.boxes[i as usize], window))
            .filter_map(|i| {
                let d = probe.distance_m(self.grid_shape(i).polygons());
                (d <= tolerance_m).then_some((i, d))
            })
            .collect();
        out.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out
    }

    /// The grids of the cell ranks `ranks` (a bit set) stored in the cells of `window`, pushed
    /// onto `out`: all those within the tolerance (and some farther). False, with `out` as it
    /// was, when the cells cannot tell (no index, a wide window).
    fn near_by_cells(&self, ranks: u32, window: CellWindow, out: &mut Vec<u32>) -> bool {
        let Some(cells) = &self.cells else {
            return false;
        };
        let start = out.len();
        let complete = cells.for_each_in_rect(window.lo, window.hi, ranks, MAX_WINDOW_CELLS, |i| {
            out.push(i)
        });
        if !complete {
            out.truncate(start);
        }
        complete
    }

    /// The cells around the point that hold every grid within `tolerance_m` of it: a grid that
    /// near has a point within the tolerance (distances under a micrometre count as zero,
    /// hence the margin), and that point lies in one of them. `None` without a cell index or
    /// for non-finite input. Computed once per question: it costs a sine and a cosine.
    fn cell_window(&self, lon: f64, lat: f64, tolerance_m: f64) -> Option<CellWindow> {
        if self.cells.is_none() || !(lon.is_finite() && lat.is_finite() && tolerance_m.is_finite())
        {
            return None;
        }
        let (dlon, dlat) = measure::degrees_for_metres(lat, tolerance_m.max(0.0) + SNAP_MARGIN_M);
        Some(CellWindow {
            lo: Coord {
                x: lon - dlon,
                y: lat - dlat,
            },
            hi: Coord {
                x: lon + dlon,
                y: lat + dlat,
            },
        })
    }

    /// True when the cells show the border of grid `g` farther than the tolerance from the
    /// point: every cell meeting the window (which holds every point within the tolerance, and
    /// a millimetre more) lies in g's interior, so no ring of g is that near. Saves measuring
    /// the distance to a long border (groups, neighborhoods); false when the cells cannot tell.
    fn border_beyond(&self, g: u32, window: CellWindow) -> bool {
        let Some(cells) = &self.cells else {
            return false;
        };
        let level = self.grids[g as usize].level;
        cells.interior_over_rect(window.lo, window.hi, level_rank(level), g, MAX_WINDOW_CELLS)
    }

    /// Whether a grid of `level` outside `chain` may lie within `tolerance_m` of the point.
    fn level_may_be_near(&self, level: GridLevel, near: &Near<'_>) -> bool {
        let &Near {
            probe,
            tolerance_m,
            chain,
            inner_border_m,
            cell_window,
        } = near;
        let border_within = |g: u32| {
            let d = if Some(&g) == chain.first() {
                inner_border_m
            } else if cell_window.is_some_and(|w| self.border_beyond(g, w)) {
                return false;
            } else {
                probe.distance_to_boundary_m(self.grid_shape(g).polygons())
            };
            d <= tolerance_m
        };
        if let Some(&own) = chain
            .iter()
            .find(|&&g| self.grids[g as usize].level == level)
        {
            return border_within(own);
        }
        match chain.first() {
            Some(&inner) if self.grids[inner as usize].level < level => {
                !self.children(inner).is_empty() || border_within(inner)
            }
            // A level above the chain's outermost grid: nothing bounds it, ask.
            _ => true,
        }
    }

    /// Grids of a level whose bounding box intersects the window, in code order.
    pub fn grids_in_bbox(&self, level: GridLevel, bbox: Rect<f64>) -> Vec<u32> {
        let window = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        let rank = 1 << level_rank(level);
        let mut out = Vec::new();
        match &self.cells {
            Some(cells) => {
                // The cells list every grid meeting the box (once per cell); a box spanning
                // more cells than there are grids to look at is cheaper as a pass over them.
                let max_cells = self.grids.len() / 8 + 64;
                let (lo, hi) = (bbox.min(), bbox.max());
                if !cells.for_each_in_rect(lo, hi, rank, max_cells, |i| out.push(i)) {
                    out.clear();
                    self.scan_boxes(rank, &window, &mut out);
                }
            }
            None => out.extend(
                self.level_trees()[level.depth()]
                    .locate_in_envelope_intersecting(&window)
                    .map(|e| e.data),
            ),
        }
        out.sort_unstable();
        out.dedup();
        out.retain(|&i| self.grid_shape(i).intersects_rect(bbox));
        out
    }

    /// [`Spatial::grids_in_bbox`] by the level's R-tree (the reference, for tests).
    pub fn grids_in_bbox_by_rtree(&self, level: GridLevel, bbox: Rect<f64>) -> Vec<u32> {
        let window = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        let mut out: Vec<u32> = self.level_trees()[level.depth()]
            .locate_in_envelope_intersecting(&window)
            .map(|e| e.data)
            .filter(|&i| self.grid_shape(i).intersects_rect(bbox))
            .collect();
        out.sort_unstable();
        out
    }

    /// The R-trees of the levels, built on first use when the cell index answers lookups.
    fn level_trees(&self) -> &[Tree; 3] {
        self.level_trees
            .get_or_init(|| level_trees_of(&self.grids, &self.boxes))
    }

    /// Pushes onto `out` every grid of the cell ranks `ranks` (a bit set) whose box meets
    /// `window` (closed): what the levels' R-trees give, by one pass over the boxes.
    fn scan_boxes(&self, ranks: u32, window: &AABB<[f64; 2]>, out: &mut Vec<u32>) {
        for (i, (g, b)) in self.grids.iter().zip(&self.boxes).enumerate() {
            if ranks >> level_rank(g.level) & 1 == 1 && box_meets(b, window) {
                out.push(i as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::atlas::Snapshot;
    use crate::fixtures::{building, grid, rect};
    use crate::model::{Dataset, GridLevel};

    /// Codes the entries do not hold twice (a resolved parent's, a located building's grid)
    /// come back from the grids they name; codes naming nothing are kept as stored.
    #[test]
    fn parent_and_grid_codes_come_back_whole() {
        let ds = Dataset {
            grids: vec![
                grid("N1", GridLevel::Neighborhood, None, rect(0., 0., 4., 4.)),
                grid(
                    "N1-G1",
                    GridLevel::BuildingGroup,
                    Some("N1"),
                    rect(0., 0., 2., 2.),
                ),
                grid(
                    "N1-G1-B1",
                    GridLevel::Building,
                    Some("N1-G1"),
                    rect(0., 0., 1., 1.),
                ),
                grid(
                    "N1-G9-B1",
                    GridLevel::Building,
                    Some("N1-G9"),
                    rect(2., 2., 3., 3.),
                ),
            ],
            buildings: vec![
                building("b1", Some("N1-G1-B1"), rect(0.2, 0.2, 0.8, 0.8)),
                building("b2", Some("N1-G7-B7"), rect(2.2, 2.2, 2.8, 2.8)),
                building("b3", Some("N7-G7-B7"), rect(3.2, 3.2, 3.8, 3.8)),
                building("b4", None, rect(3.2, 3.2, 3.8, 3.8)),
            ],
            ..Dataset::default()
        };
        let snapshot = Snapshot::from_dataset(ds.clone(), 1);
        let s = &snapshot.spatial;
        let parent = |code: &str| s.grid_index(code).and_then(|g| s.parent_code(g));
        assert_eq!(parent("N1"), None);
        assert_eq!(parent("N1-G1"), Some("N1"));
        assert_eq!(parent("N1-G1-B1"), Some("N1-G1"));
        assert_eq!(parent("N1-G9-B1"), Some("N1-G9"), "a parent naming no grid");
        let b1 = s.building_index("b1").expect("b1");
        assert_eq!(
            s.building_texts.get(b1 as usize, super::BUILDING_GRID_CODE),
            None,
            "held once, by the grid"
        );
        let b3 = s.building_index("b3").expect("b3");
        assert_eq!(s.building(b3).grid, None, "a grid code naming no grid");
        assert_eq!(s.get_building(4).map(|b| b.id), None, "past the end");
        let mut back = snapshot.to_dataset();
        back.grids.sort_by(|a, b| a.code.cmp(&b.code));
        let mut want = ds;
        want.grids.sort_by(|a, b| a.code.cmp(&b.code));
        assert_eq!(back.grids, want.grids);
        assert_eq!(back.buildings, want.buildings);
    }
}
