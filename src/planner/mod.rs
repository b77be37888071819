//! Planning: algorithms that redraw and rebalance grids for planners.
//!
//! - [`recompute`] redraws the building-group and building grids of a neighborhood from the
//!   buildings' assignments: a footprint-seeded Voronoi partition that tiles it exactly.
//! - [`rebalance`] re-partitions a neighborhood's buildings into contiguous, balanced
//!   building groups with as few moves as possible, on the adjacency of those regions.
//! - [`redraw`] applies both to one neighborhood of a plan's dataset: new geometry, new codes
//!   for moved building grids and new groups, retired grids dropped.
//! - [`changes`] is a plan's content: the difference between the atlas and the plan (what a
//!   publish writes), applied back to the atlas to materialise the plan, stored as JSON.
//! - [`diff`] reports what a plan changes for the people concerned: grids added, removed and
//!   changed (area gained and lost), buildings moved, and every building whose leaders or
//!   service team would change, with its addresses.
//! - [`edit`] is what a planner does inside a plan: replace a boundary, rename, add, split,
//!   merge, move a building to another group, retire; codes follow the hierarchy, never reused.
//! - [`validation`] lists every problem of a drafted plan (gaps, overlaps, nesting, buildings,
//!   leaders) with its region, for a map.

pub mod changes;
pub mod diff;
pub mod edit;
pub mod rebalance;
pub mod recompute;
pub mod redraw;
pub mod validation;
