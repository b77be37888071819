//! Reading data from outside: geodata folders (the sample's format) and OpenStreetMap
//! building footprints. Readers only parse and check; writing is the store's job.

pub mod geodata;
pub mod osm;

use std::path::PathBuf;

/// One thing wrong with one input feature or row, named so a person can find it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InputProblem {
    pub file: String,
    /// The feature's code or id when it has one, else `#N` (1-based position).
    pub feature: String,
    pub message: String,
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.feature, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid {format}: {message}")]
    Syntax {
        path: PathBuf,
        format: &'static str,
        message: String,
    },
    #[error("{} problem(s) in the input:\n{}", .0.len(), list(.0))]
    Invalid(Vec<InputProblem>),
}

fn list(problems: &[InputProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Largest input file read into memory (a city's buildings fit comfortably).
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

fn read_text(path: &std::path::Path) -> Result<String, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(ImportError::Syntax {
            path: path.to_path_buf(),
            format: "input",
            message: format!("file is {len} bytes, more than the {MAX_FILE_BYTES} allowed"),
        });
    }
    std::fs::read_to_string(path).map_err(io)
}

fn read_feature_collection(
    path: &std::path::Path,
) -> Result<geojson::FeatureCollection, ImportError> {
    let text = read_text(path)?;
    text.parse::<geojson::FeatureCollection>()
        .map_err(|e| ImportError::Syntax {
            path: path.to_path_buf(),
            format: "GeoJSON FeatureCollection",
            message: e.to_string(),
        })
}
