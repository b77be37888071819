//! Geometry columns are WKB (ISO, little-endian), the format PostGIS and GDAL read too.

use geo::{Geometry, MultiPolygon};
use geo_traits::to_geo::ToGeoGeometry;

use super::StoreError;

pub fn encode_multipolygon(mp: &MultiPolygon<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(wkb::writer::geometry_wkb_size(mp));
    let options = wkb::writer::WriteOptions {
        endianness: wkb::Endianness::LittleEndian,
    };
    // Writing into a Vec cannot fail for a 2D multipolygon; keep the error path anyway.
    if wkb::writer::write_geometry(&mut out, mp, &options).is_err() {
        out.clear();
    }
    out
}

pub fn decode_multipolygon(bytes: &[u8]) -> Result<MultiPolygon<f64>, StoreError> {
    let parsed = wkb::reader::read_wkb(bytes)
        .map_err(|e| StoreError::Corrupt(format!("invalid WKB geometry: {e}")))?;
    match parsed.to_geometry() {
        Geometry::MultiPolygon(mp) => Ok(mp),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(StoreError::Corrupt(format!(
            "expected a (multi)polygon geometry, found {}",
            geometry_kind(&other)
        ))),
    }
}

fn geometry_kind(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn round_trips_a_multipolygon() {
        let p = polygon![(x: 121.0, y: 31.0), (x: 121.1, y: 31.0), (x: 121.1, y: 31.1), (x: 121.0, y: 31.0)];
        let mp = MultiPolygon(vec![p]);
        let bytes = encode_multipolygon(&mp);
        assert_eq!(decode_multipolygon(&bytes).unwrap(), mp);
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_multipolygon(&[1, 2, 3]).is_err());
    }
}
