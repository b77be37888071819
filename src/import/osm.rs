//! Building footprints exported from OpenStreetMap (overpass-turbo GeoJSON).
//!
//! Polygon/MultiPolygon features tagged `building` become buildings with id `osm:<@id>`;
//! points and untagged features are skipped and counted. Each building is attached to the
//! innermost current grid whose polygon covers its footprint; uncovered ones are reported.
//! A building whose door plate already belongs to another building of the atlas is the same
//! building mapped twice: it is reported and not imported, so addresses stay unambiguous.
//! A feature with a defect (invalid geometry, no id, an id twice) rejects the whole file.

use std::path::Path;

use geo::{InteriorPoint, Relate};
use geojson::{Feature, JsonObject, JsonValue};
use serde::Serialize;

use super::geodata::Props;
use super::{ImportError, InputProblem, read_feature_collection};
use crate::address::MatchKind;
use crate::atlas::Spatial;
use crate::geometry::validity::multipolygon_from_geojson;
use crate::model::{Building, Workload};

#[derive(Debug, Default, Serialize)]
pub struct OsmReport {
    pub features: usize,
    pub buildings: usize,
    pub skipped_points: usize,
    pub skipped_not_building: usize,
    /// Buildings no grid covers: not imported.
    pub uncovered: Vec<String>,
    /// Buildings whose address the atlas already gives to another building: not imported.
    pub already_known: Vec<KnownAddress>,
}

#[derive(Debug, Serialize)]
pub struct KnownAddress {
    pub id: String,
    pub address: String,
    /// The id of the building that already has this address.
    pub existing: String,
}

/// Reads the file and attaches every building to its grid. Nothing is written here.
pub fn read_buildings(
    path: &Path,
    spatial: &Spatial,
) -> Result<(Vec<Building>, OsmReport), ImportError> {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let collection = read_feature_collection(path)?;
    let mut report = OsmReport {
        features: collection.features.len(),
        ..OsmReport::default()
    };
    let mut buildings = Vec::new();
    let mut rejected = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, feature) in collection.features.iter().enumerate() {
        let Some(tags) = tags_of(feature) else {
            report.skipped_not_building += 1;
            continue;
        };
        let kind = feature.geometry.as_ref().map(|g| g.value.type_name());
        if matches!(kind, Some("Point") | Some("MultiPoint")) {
            report.skipped_points += 1;
            continue;
        }
        if !is_building(tags) {
            report.skipped_not_building += 1;
            continue;
        }
        let props = Props {
            file: &file,
            label: osm_id(feature, tags).unwrap_or_else(|| format!("#{}", i + 1)),
            map: tags,
        };
        let b = match building_from(feature, &props) {
            Ok(b) => b,
            Err(problem) => {
                rejected.push(problem);
                continue;
            }
        };
        if !seen.insert(b.id.clone()) {
            rejected.push(props.problem("the same OpenStreetMap id appears twice in the file"));
            continue;
        }
        if let Some(known) = known_address(spatial, &b) {
            report.already_known.push(known);
            continue;
        }
        match covering_grid(spatial, &b) {
            Some(code) => buildings.push(Building {
                grid_code: Some(code),
                ..b
            }),
            None => report.uncovered.push(b.id),
        }
    }
    if !rejected.is_empty() {
        return Err(ImportError::Invalid(rejected));
    }
    report.buildings = buildings.len();
    Ok((buildings, report))
}

/// overpass-turbo flattens tags into `properties`; some exports nest them under `tags`.
fn tags_of(feature: &Feature) -> Option<&JsonObject> {
    let props = feature.properties.as_ref()?;
    match props.get("tags") {
        Some(JsonValue::Object(nested)) => Some(nested),
        _ => Some(props),
    }
}

fn is_building(tags: &JsonObject) -> bool {
    match tags.get("building") {
        Some(JsonValue::String(v)) => v != "no",
        Some(JsonValue::Bool(b)) => *b,
        _ => false,
    }
}

fn osm_id(feature: &Feature, tags: &JsonObject) -> Option<String> {
    let from_props = feature
        .properties
        .as_ref()
        .and_then(|p| p.get("@id").or_else(|| p.get("id")))
        .or_else(|| tags.get("@id"));
    let raw = match (from_props, &feature.id) {
        (Some(JsonValue::String(s)), _) => s.clone(),
        (Some(JsonValue::Number(n)), _) => n.to_string(),
        (_, Some(geojson::feature::Id::String(s))) => s.clone(),
        (_, Some(geojson::feature::Id::Number(n))) => n.to_string(),
        _ => return None,
    };
    Some(format!("osm:{raw}"))
}

/// "1266" → "1266号": door plates in Shanghai carry 号; OSM often leaves it off.
fn door_plate(street: &str, number: &str) -> String {
    let number = number.trim();
    let needs_hao = number.chars().last().is_some_and(|c| c.is_ascii_digit());
    format!(
        "{}{}{}",
        street.trim(),
        number,
        if needs_hao { "号" } else { "" }
    )
}

fn building_from(feature: &Feature, props: &Props) -> Result<Building, InputProblem> {
    if props.label.starts_with('#') {
        return Err(props.problem("feature has no OpenStreetMap id (@id)"));
    }
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| props.problem("feature has no geometry"))?;
    let footprint = multipolygon_from_geojson(geometry)
        .map_err(|e| props.problem(format!("invalid geometry: {e}")))?;
    let name_zh = props.opt_str("name:zh")?;
    let name = props
        .opt_str("name")?
        .or_else(|| name_zh.clone())
        .unwrap_or_else(|| props.label.clone());
    let mut aliases: Vec<String> = [
        name_zh,
        props.opt_str("alt_name")?,
        props.opt_str("old_name")?,
    ]
    .into_iter()
    .flatten()
    .filter(|a| *a != name)
    .collect();
    aliases.dedup();
    let addresses = match (
        props.opt_str("addr:street")?,
        props.opt_str("addr:housenumber")?,
    ) {
        (Some(street), Some(number)) => vec![door_plate(&street, &number)],
        _ => Vec::new(),
    };
    Ok(Building {
        id: props.label.clone(),
        name,
        name_en: props.opt_str("name:en")?,
        aliases,
        addresses,
        grid_code: None,
        footprint,
        workload: Workload::default(),
    })
}

/// The first of the building's addresses that the atlas gives to a different building.
fn known_address(spatial: &Spatial, b: &Building) -> Option<KnownAddress> {
    b.addresses.iter().find_map(|address| {
        let hit = spatial.addresses.lookup(address).ok()?;
        let existing = spatial.building(hit.building).id;
        (hit.kind == MatchKind::Address && existing != b.id).then(|| KnownAddress {
            id: b.id.clone(),
            address: address.clone(),
            existing: existing.to_string(),
        })
    })
}

/// The innermost grid around a point of the footprint that covers the whole footprint.
fn covering_grid(spatial: &Spatial, b: &Building) -> Option<String> {
    let inside = b.footprint.interior_point()?;
    let hit = spatial.locate(inside.x(), inside.y())?;
    spatial
        .chain(hit.grid)
        .iter()
        .find(|&&g| spatial.grid_geometry(g).relate(&b.footprint).is_covers())
        .map(|&g| spatial.grid_code(g).to_string())
}
