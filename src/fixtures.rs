//! Small hand-made layouts shared by the unit tests of the rules and of plan validation.

use chrono::{TimeZone, Utc};
use geo::{LineString, MultiPolygon, Polygon};

use crate::model::{Building, Grid, GridLevel, Workload};

pub const X0: f64 = 121.44;
pub const Y0: f64 = 31.22;
/// One unit of the test layouts: 0.001° (about 95 m east-west, 111 m north-south).
pub const U: f64 = 0.001;

/// The rectangle from (x0, y0) to (x1, y1), in units from (X0, Y0).
pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    let (x0, y0, x1, y1) = (X0 + x0 * U, Y0 + y0 * U, X0 + x1 * U, Y0 + y1 * U);
    MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
        vec![],
    )])
}

pub fn grid(
    code: &str,
    level: GridLevel,
    parent: Option<&str>,
    geometry: MultiPolygon<f64>,
) -> Grid {
    Grid {
        code: code.into(),
        name: format!("grid {code}"),
        name_en: None,
        level,
        parent_code: parent.map(Into::into),
        geometry,
        valid_from: Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .expect("date"),
        valid_to: None,
    }
}

pub fn building(id: &str, grid: Option<&str>, footprint: MultiPolygon<f64>) -> Building {
    Building {
        id: id.into(),
        name: format!("building {id}"),
        name_en: None,
        aliases: vec![],
        addresses: vec![],
        grid_code: grid.map(Into::into),
        footprint,
        workload: Workload::default(),
    }
}
