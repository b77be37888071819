//! gridatlas: nested governance grids (neighborhood → building group → building), their dual
//! grid leaders and service teams, answered for any point, address or building.
//!
//! Data flows one way: store → immutable snapshot ([`atlas`]) → thin HTTP handlers ([`api`]).

pub mod address;
pub mod api;
pub mod atlas;
#[cfg(test)]
mod fixtures;
pub mod generate;
pub mod geometry;
pub mod import;
pub mod memory;
pub mod model;
pub mod planner;
pub mod rules;
pub mod service;
pub mod store;
pub mod sync;
