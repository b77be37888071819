//! Streaming writers: GeoJSON feature collections one feature per line, CSV rows, with every
//! I/O error naming the file.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::GenerateError;
use super::layout::Pt;

/// Metres on the local plane to WGS84 longitude/latitude: an affine map (equirectangular at
/// the city's centre), so straight lines, containment and orientation carry over unchanged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Proj {
    pub cx: f64,
    pub cy: f64,
    pub lon0: f64,
    pub lat0: f64,
    /// Metres per degree of longitude and of latitude at lat0.
    pub mx: f64,
    pub my: f64,
}

impl Proj {
    pub fn new(cx: f64, cy: f64, lon0: f64, lat0: f64) -> Proj {
        let phi = lat0.to_radians();
        let my = 111_132.954 - 559.822 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
        let mx = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
        Proj {
            cx,
            cy,
            lon0,
            lat0,
            mx,
            my,
        }
    }

    pub fn lon_lat(&self, p: Pt) -> (f64, f64) {
        (
            self.lon0 + (p.x - self.cx) / self.mx,
            self.lat0 + (p.y - self.cy) / self.my,
        )
    }
}

/// A number rounded to 7 decimals, trailing zeros dropped (121.4585982, 31.232827).
pub(crate) fn push_coord(s: &mut String, v: f64) {
    let fixed = (v * 1e7).round() as i64;
    if fixed < 0 {
        s.push('-');
    }
    let a = fixed.unsigned_abs();
    let _ = write!(s, "{}", a / 10_000_000);
    let mut frac = a % 10_000_000;
    if frac != 0 {
        let mut digits = [b'0'; 7];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
        s.push('.');
        for &d in &digits[..end] {
            s.push(char::from(d));
        }
    }
}

/// A JSON string literal.
pub(crate) fn push_str(s: &mut String, v: &str) {
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

pub(crate) fn push_str_list(s: &mut String, items: &[String]) {
    s.push('[');
    for (k, v) in items.iter().enumerate() {
        if k > 0 {
            s.push(',');
        }
        push_str(s, v);
    }
    s.push(']');
}

/// `{"type":"Polygon","coordinates":[...]}` from rings that are not closed (closed here).
pub(crate) fn push_polygon(s: &mut String, rings: &[&[Pt]], proj: &Proj) {
    s.push_str("{\"type\":\"Polygon\",\"coordinates\":[");
    for (r, ring) in rings.iter().enumerate() {
        if r > 0 {
            s.push(',');
        }
        s.push('[');
        for (k, &p) in ring.iter().chain(ring.first()).enumerate() {
            if k > 0 {
                s.push(',');
            }
            let (lon, lat) = proj.lon_lat(p);
            s.push('[');
            push_coord(s, lon);
            s.push(',');
            push_coord(s, lat);
            s.push(']');
        }
        s.push(']');
    }
    s.push_str("]}");
}

/// A buffered output file that names itself in errors.
pub(crate) struct Out {
    w: BufWriter<File>,
    path: PathBuf,
}

impl Out {
    pub fn create(path: &Path) -> Result<Out, GenerateError> {
        let f = File::create(path).map_err(|e| GenerateError::io(path, e))?;
        Ok(Out {
            w: BufWriter::with_capacity(1 << 20, f),
            path: path.to_path_buf(),
        })
    }

    pub fn write(&mut self, s: &str) -> Result<(), GenerateError> {
        self.w
            .write_all(s.as_bytes())
            .map_err(|e| GenerateError::io(&self.path, e))
    }

    /// Flushes and closes, reporting any error.
    pub fn finish(self) -> Result<(), GenerateError> {
        let path = self.path;
        let f = self
            .w
            .into_inner()
            .map_err(|e| GenerateError::io(&path, e.into_error()))?;
        f.sync_all().map_err(|e| GenerateError::io(&path, e))
    }
}

/// A GeoJSON FeatureCollection written one feature per line.
pub(crate) struct FeatureOut {
    out: Out,
    first: bool,
}

impl FeatureOut {
    pub fn create(path: &Path) -> Result<FeatureOut, GenerateError> {
        let mut out = Out::create(path)?;
        out.write("{\"type\":\"FeatureCollection\",\"features\":[\n")?;
        Ok(FeatureOut { out, first: true })
    }

    /// One feature: `properties` is a JSON object, `geometry` a JSON geometry.
    pub fn feature(&mut self, properties: &str, geometry: &str) -> Result<(), GenerateError> {
        let sep = if self.first { "" } else { ",\n" };
        self.first = false;
        self.out.write(sep)?;
        self.out.write("{\"type\":\"Feature\",\"properties\":")?;
        self.out.write(properties)?;
        self.out.write(",\"geometry\":")?;
        self.out.write(geometry)?;
        self.out.write("}")
    }

    pub fn finish(mut self) -> Result<(), GenerateError> {
        self.out.write("\n]}\n")?;
        self.out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_have_seven_decimals_at_most() {
        let mut s = String::new();
        for v in [
            121.4585982,
            31.232827,
            31.0,
            -0.5,
            121.47000004,
            -121.00000006,
        ] {
            push_coord(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "121.4585982 31.232827 31 -0.5 121.47 -121.0000001 ");
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        push_str(&mut s, "a\"b\\c\n静安");
        assert_eq!(s, "\"a\\\"b\\\\c\\n静安\"");
    }
}
