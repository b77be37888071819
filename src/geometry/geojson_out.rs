//! RFC 7946 geometry written straight from the atlas' polygons into a serializer: rings
//! oriented (exterior counter-clockwise, holes clockwise), converted to the caller's CRS and
//! rounded to 7 decimals (about 1 cm) on the fly, with no intermediate copy of the geometry.
//! A 10,000-feature layer is mostly coordinates, so this is where its time goes.

use geo::Coord;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::crs::{self, Crs};
use super::flat::{PolygonRings, Polygonal};
use super::validity::is_ccw;

/// A multipolygon (a `geo::MultiPolygon` or a flat [`super::flat::Shape`]) as a GeoJSON
/// `MultiPolygon` geometry object.
pub struct MultiPolygonJson<G> {
    pub geometry: G,
    pub crs: Crs,
}

impl<'a, G: Polygonal<'a>> Serialize for MultiPolygonJson<G> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("type", "MultiPolygon")?;
        map.serialize_entry("coordinates", &Polygons(self))?;
        map.end()
    }
}

struct Polygons<'j, G>(&'j MultiPolygonJson<G>);

impl<'a, G: Polygonal<'a>> Serialize for Polygons<'_, G> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for polygon in self.0.geometry.polygon_iter() {
            seq.serialize_element(&Rings {
                polygon,
                crs: self.0.crs,
            })?;
        }
        seq.end()
    }
}

struct Rings<P> {
    polygon: P,
    crs: Crs,
}

impl<'a, P: PolygonRings<'a>> Serialize for Rings<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        let exterior = std::iter::once((self.polygon.exterior_ring(), true));
        for (ring, ccw) in exterior.chain(self.polygon.hole_rings().map(|h| (h, false))) {
            seq.serialize_element(&Ring {
                coords: ring,
                ccw,
                crs: self.crs,
            })?;
        }
        seq.end()
    }
}

struct Ring<'a> {
    coords: &'a [Coord<f64>],
    /// The orientation RFC 7946 wants for this ring.
    ccw: bool,
    crs: Crs,
}

impl Serialize for Ring<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let coords = self.coords;
        let mut seq = s.serialize_seq(Some(coords.len()))?;
        let reverse = is_ccw(coords).is_some_and(|ccw| ccw != self.ccw);
        let mut put = |c: &Coord<f64>| {
            let (x, y) = crs::from_wgs84(self.crs, c.x, c.y);
            seq.serialize_element(&[round7(x), round7(y)])
        };
        if reverse {
            coords.iter().rev().try_for_each(&mut put)?;
        } else {
            coords.iter().try_for_each(&mut put)?;
        }
        seq.end()
    }
}

/// Seven decimals are about 1 cm: more digits only make the layer heavier.
pub fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::validity::oriented_rfc7946;
    use geo::{MapCoords, MultiPolygon, polygon};

    fn expected(mp: &MultiPolygon<f64>, crs: Crs) -> serde_json::Value {
        let mp = crs::multipolygon_from_wgs84(crs, &oriented_rfc7946(mp)).map_coords(|c| Coord {
            x: round7(c.x),
            y: round7(c.y),
        });
        serde_json::to_value(geojson::GeometryValue::from(&mp)).unwrap_or_default()
    }

    #[test]
    fn matches_the_geojson_crate_for_every_orientation_and_crs() {
        // Exterior clockwise and hole counter-clockwise: both must be flipped.
        let cw = polygon!(
            exterior: [(x: 121.0, y: 31.0), (x: 121.0, y: 31.1), (x: 121.1, y: 31.1), (x: 121.1, y: 31.0), (x: 121.0, y: 31.0)],
            interiors: [[(x: 121.02, y: 31.02), (x: 121.05, y: 31.02), (x: 121.05, y: 31.05), (x: 121.02, y: 31.02)]],
        );
        let ccw = polygon![(x: 121.2, y: 31.0), (x: 121.3, y: 31.0), (x: 121.3, y: 31.1), (x: 121.2, y: 31.0)];
        let mp = MultiPolygon::new(vec![cw, ccw]);
        for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
            let ours =
                serde_json::to_value(MultiPolygonJson { geometry: &mp, crs }).unwrap_or_default();
            assert_eq!(ours, expected(&mp, crs), "{crs}");
            let shapes: crate::geometry::flat::Shapes = std::iter::once(mp.clone()).collect();
            let flat = shapes
                .get(0)
                .map(|geometry| MultiPolygonJson { geometry, crs });
            assert_eq!(
                serde_json::to_value(flat).unwrap_or_default(),
                ours,
                "flat, {crs}"
            );
        }
    }
}
