//! A geodata folder (format in geodata/README.md): grids.geojson, buildings.geojson,
//! people.csv, leaders.csv, teams.json. Every problem found is reported, not just the first.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use geojson::{Feature, JsonObject, JsonValue};
use serde::Deserialize;

use super::{ImportError, InputProblem, read_feature_collection, read_text};
use crate::geometry::validity::multipolygon_from_geojson;
use crate::model::{
    Building, Contact, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole, Person, ServiceTeam,
    TeamMember, Workload,
};

pub const GRIDS_FILE: &str = "grids.geojson";
pub const BUILDINGS_FILE: &str = "buildings.geojson";
pub const PEOPLE_FILE: &str = "people.csv";
pub const LEADERS_FILE: &str = "leaders.csv";
pub const TEAMS_FILE: &str = "teams.json";

/// Reads a whole folder into a dataset. Rules between features (nesting, overlaps) are
/// checked separately by [`crate::rules::check_dataset`].
pub fn read_folder(dir: &Path) -> Result<Dataset, ImportError> {
    let mut problems = Vec::new();
    let grids = read_grids(&dir.join(GRIDS_FILE), &mut problems)?;
    let buildings = read_buildings(&dir.join(BUILDINGS_FILE), &mut problems)?;
    let people = read_people(&dir.join(PEOPLE_FILE), &mut problems)?;
    let leaders = read_leaders(&dir.join(LEADERS_FILE), &mut problems)?;
    let teams = read_teams(&dir.join(TEAMS_FILE), &mut problems)?;
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    Ok(Dataset {
        grids,
        buildings,
        people,
        leaders,
        teams,
    })
}

/// Properties of one feature, with errors that name the file and the feature.
pub(crate) struct Props<'a> {
    pub file: &'a str,
    pub label: String,
    pub map: &'a JsonObject,
}

impl Props<'_> {
    pub fn problem(&self, message: impl Into<String>) -> InputProblem {
        InputProblem {
            file: self.file.to_string(),
            feature: self.label.clone(),
            message: message.into(),
        }
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, InputProblem> {
        match self.map.get(key) {
            None | Some(JsonValue::Null) => Ok(None),
            Some(JsonValue::String(s)) if s.trim().is_empty() => Ok(None),
            Some(JsonValue::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => {
                Err(self.problem(format!("property '{key}' must be a string, not {other}")))
            }
        }
    }

    pub fn str(&self, key: &str) -> Result<String, InputProblem> {
        self.opt_str(key)?
            .ok_or_else(|| self.problem(format!("property '{key}' is missing")))
    }

    pub fn str_list(&self, key: &str) -> Result<Vec<String>, InputProblem> {
        match self.map.get(key) {
            None | Some(JsonValue::Null) => Ok(Vec::new()),
            Some(JsonValue::Array(items)) => items
                .iter()
                .map(|v| match v {
                    JsonValue::String(s) => Ok(s.trim().to_string()),
                    other => Err(self.problem(format!("'{key}' must hold strings, not {other}"))),
                })
                .collect(),
            Some(other) => Err(self.problem(format!(
                "property '{key}' must be an array of strings, not {other}"
            ))),
        }
    }

    pub fn count(&self, key: &str) -> Result<u32, InputProblem> {
        match self.map.get(key) {
            None | Some(JsonValue::Null) => Ok(0),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    self.problem(format!(
                        "property '{key}' must be a whole number ≥ 0, not {v}"
                    ))
                }),
        }
    }

    pub fn area(&self, key: &str) -> Result<f64, InputProblem> {
        match self.map.get(key) {
            None | Some(JsonValue::Null) => Ok(0.0),
            Some(v) => v
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    self.problem(format!("property '{key}' must be a number ≥ 0, not {v}"))
                }),
        }
    }
}

fn label_of(feature: &Feature, key: &str, index: usize) -> String {
    feature
        .properties
        .as_ref()
        .and_then(|p| p.get(key))
        .and_then(JsonValue::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("#{}", index + 1))
}

/// Parses `2024-01-01` or an RFC 3339 timestamp.
pub fn parse_date_or_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Properties of a feature that has none.
static EMPTY: std::sync::LazyLock<JsonObject> = std::sync::LazyLock::new(JsonObject::new);

fn features(path: &Path) -> Result<Vec<Feature>, ImportError> {
    Ok(read_feature_collection(path)?.features)
}

fn read_grids(path: &Path, problems: &mut Vec<InputProblem>) -> Result<Vec<Grid>, ImportError> {
    let mut out = Vec::new();
    for (i, f) in features(path)?.iter().enumerate() {
        let props = Props {
            file: GRIDS_FILE,
            label: label_of(f, "code", i),
            map: f.properties.as_ref().unwrap_or(&EMPTY),
        };
        match grid_from_feature(f, &props) {
            Ok(g) => out.push(g),
            Err(p) => problems.push(p),
        }
    }
    Ok(out)
}

fn geometry_of(f: &Feature, props: &Props) -> Result<geo::MultiPolygon<f64>, InputProblem> {
    let geometry = f
        .geometry
        .as_ref()
        .ok_or_else(|| props.problem("feature has no geometry"))?;
    multipolygon_from_geojson(geometry).map_err(|e| props.problem(format!("invalid geometry: {e}")))
}

fn grid_from_feature(f: &Feature, props: &Props) -> Result<Grid, InputProblem> {
    let level = props.str("level")?;
    let level = GridLevel::from_str(&level).map_err(|e| props.problem(e))?;
    let valid_from = match props.opt_str("valid_from")? {
        None => DateTime::<Utc>::UNIX_EPOCH,
        Some(s) => parse_date_or_timestamp(&s).ok_or_else(|| {
            props.problem(format!(
                "valid_from '{s}' is not a date or RFC 3339 timestamp"
            ))
        })?,
    };
    Ok(Grid {
        code: props.str("code")?,
        name: props.str("name")?,
        name_en: props.opt_str("name_en")?,
        level,
        parent_code: props.opt_str("parent_code")?,
        geometry: geometry_of(f, props)?,
        valid_from,
        valid_to: None,
    })
}

fn read_buildings(
    path: &Path,
    problems: &mut Vec<InputProblem>,
) -> Result<Vec<Building>, ImportError> {
    let mut out = Vec::new();
    for (i, f) in features(path)?.iter().enumerate() {
        let props = Props {
            file: BUILDINGS_FILE,
            label: label_of(f, "id", i),
            map: f.properties.as_ref().unwrap_or(&EMPTY),
        };
        match building_from_feature(f, &props) {
            Ok(b) => out.push(b),
            Err(p) => problems.push(p),
        }
    }
    Ok(out)
}

fn building_from_feature(f: &Feature, props: &Props) -> Result<Building, InputProblem> {
    Ok(Building {
        id: props.str("id")?,
        name: props.str("name")?,
        name_en: props.opt_str("name_en")?,
        aliases: props.str_list("aliases")?,
        addresses: props.str_list("addresses")?,
        grid_code: props.opt_str("grid_code")?,
        footprint: geometry_of(f, props)?,
        workload: Workload {
            enterprises: props.count("enterprises")?,
            employees: props.count("employees")?,
            party_members: props.count("party_members")?,
            floor_area_m2: props.area("floor_area_m2")?,
        },
    })
}

/// Reads CSV rows into `T`, naming the file and the line of every bad row.
fn read_csv<T: for<'de> Deserialize<'de>>(
    path: &Path,
    file: &str,
    problems: &mut Vec<InputProblem>,
) -> Result<Vec<T>, ImportError> {
    let text = read_text(path)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in reader.deserialize::<T>().enumerate() {
        match row {
            Ok(r) => out.push(r),
            Err(e) => problems.push(InputProblem {
                file: file.to_string(),
                feature: format!("line {}", i + 2),
                message: e.to_string(),
            }),
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct PersonRow {
    id: String,
    name: String,
    phone: Option<String>,
    email: Option<String>,
}

fn read_people(path: &Path, problems: &mut Vec<InputProblem>) -> Result<Vec<Person>, ImportError> {
    let rows: Vec<PersonRow> = read_csv(path, PEOPLE_FILE, problems)?;
    Ok(rows
        .into_iter()
        .map(|r| Person {
            id: r.id,
            name: r.name,
            contact: Contact {
                phone: r.phone.filter(|s| !s.is_empty()),
                email: r.email.filter(|s| !s.is_empty()),
            },
        })
        .collect())
}

#[derive(Deserialize)]
struct LeaderRow {
    grid_code: String,
    role: String,
    person_id: String,
}

fn read_leaders(
    path: &Path,
    problems: &mut Vec<InputProblem>,
) -> Result<Vec<LeaderAssignment>, ImportError> {
    let rows: Vec<LeaderRow> = read_csv(path, LEADERS_FILE, problems)?;
    let mut out = Vec::new();
    for (i, r) in rows.into_iter().enumerate() {
        match LeaderRole::from_str(&r.role) {
            Ok(role) => out.push(LeaderAssignment {
                grid_code: r.grid_code,
                role,
                person_id: r.person_id,
            }),
            Err(e) => problems.push(InputProblem {
                file: LEADERS_FILE.to_string(),
                feature: format!("line {}", i + 2),
                message: e,
            }),
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamRow {
    id: String,
    name: String,
    #[serde(default)]
    grid_codes: Vec<String>,
    #[serde(default)]
    members: Vec<TeamMember>,
}

fn read_teams(
    path: &Path,
    _problems: &mut [InputProblem],
) -> Result<Vec<ServiceTeam>, ImportError> {
    let text = read_text(path)?;
    let rows: Vec<TeamRow> = serde_json::from_str(&text).map_err(|e| ImportError::Syntax {
        path: path.to_path_buf(),
        format: "JSON (an array of teams)",
        message: e.to_string(),
    })?;
    Ok(rows
        .into_iter()
        .map(|t| ServiceTeam {
            id: t.id,
            name: t.name,
            members: t.members,
            grid_codes: t.grid_codes,
        })
        .collect())
}
