//! Planning: algorithms that redraw and rebalance grids for planners.
//!
//! [`rebalance`] re-partitions a neighborhood's buildings into contiguous, balanced
//! building groups with as few moves as possible.

pub mod rebalance;
