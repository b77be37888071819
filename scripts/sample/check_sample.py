#!/usr/bin/env python3
"""Check geodata/ against the rules the gridatlas service enforces (and the sample's own promises).

Prints PASS/FAIL per rule with details of every failure; exits 1 if any rule fails.
Usage: python3 scripts/sample/check_sample.py [geodata-dir]     Requires: shapely >= 2, pyproj.
"""
from __future__ import annotations

import csv
import itertools
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import shapely
from pyproj import Geod
from shapely import STRtree
from shapely.geometry import LineString, Point, shape
from shapely.ops import unary_union

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "geodata"
GEOD = Geod(ellps="WGS84")
TOL_M2 = 0.5            # area tolerance of the service for coverage / overlap
FOOTPRINT_MARGIN_M = 2.0  # a footprint must be at least this far inside its building grid
MIN_AREA_KM2 = 1.5
CALIBRATION = {"静安寺": (121.4406, 31.2255), "上海展览中心": (121.4480, 31.2269)}  # OSM centres
CALIBRATION_TOL_M = 60.0
SPECIALTIES = {"industrial support", "administrative approval", "taxes and finance",
               "talent services", "legal services", "market supervision"}
LEVELS = {"neighborhood": 11, "building_group": 13, "building": 16}
PARENT_LEVEL = {"building_group": "neighborhood", "building": "building_group"}
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

results: list[tuple[str, bool, list[str]]] = []


def rule(name: str, problems: list[str]):
    results.append((name, not problems, problems))


def area_m2(g) -> float:
    """Geodesic area (m2) of any geometry; non-areal parts count 0."""
    if g.is_empty:
        return 0.0
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return abs(GEOD.geometry_area_perimeter(g)[0])
    if hasattr(g, "geoms"):
        return sum(area_m2(x) for x in g.geoms)
    return 0.0


# Local metric frame (affine, metres) for distances.
LON0, LAT0 = 121.452, 31.227
KX = GEOD.inv(LON0 - 0.005, LAT0, LON0 + 0.005, LAT0)[2] / 0.01
KY = GEOD.inv(LON0, LAT0 - 0.005, LON0, LAT0 + 0.005)[2] / 0.01


def metric(g):
    return shapely.transform(g, lambda a: (a - (LON0, LAT0)) * (KX, KY))


# ---------------------------------------------------------------------------
def load_fc(name, problems):
    try:
        fc = json.loads((DATA / name).read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        problems.append(f"{name}: cannot read: {e}")
        return []
    if fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        problems.append(f"{name}: not a FeatureCollection")
        return []
    return fc["features"]


def check_raw_geometry(label, geom, problems):
    """RFC 7946 rules on the raw JSON: type, closed rings, ranges, 7 decimals, orientation."""
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        problems.append(f"{label}: geometry must be Polygon or MultiPolygon")
        return None
    polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
    for pi, rings in enumerate(polys):
        for ri, ring in enumerate(rings):
            where = f"{label} polygon {pi} ring {ri}"
            if len(ring) < 4:
                problems.append(f"{where}: fewer than 4 positions")
                continue
            if ring[0] != ring[-1]:
                problems.append(f"{where}: not closed")
            for x, y in ring:
                if not (-180 <= x <= 180 and -90 <= y <= 90):
                    problems.append(f"{where}: coordinate out of range {x},{y}")
                    break
                if round(x, 7) != x or round(y, 7) != y:
                    problems.append(f"{where}: coordinate not rounded to 7 decimals {x},{y}")
                    break
            signed = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:]))
            if ri == 0 and signed <= 0:
                problems.append(f"{where}: exterior ring is not counter-clockwise")
            if ri > 0 and signed >= 0:
                problems.append(f"{where}: hole is not clockwise")
    g = shape(geom)
    if not g.is_valid:
        problems.append(f"{label}: invalid geometry: {shapely.is_valid_reason(g)}")
    return g


def main():
    # --- files and schemas -------------------------------------------------
    p_schema: list[str] = []
    gfeats = load_fc("grids.geojson", p_schema)
    bfeats = load_fc("buildings.geojson", p_schema)
    grids, gprops = {}, {}
    p_geom: list[str] = []
    for i, f in enumerate(gfeats):
        pr = f.get("properties") or {}
        code = pr.get("code")
        label = f"grid {code or '#' + str(i)}"
        for k, t in (("code", str), ("name", str), ("name_en", str), ("level", str), ("valid_from", str)):
            if not isinstance(pr.get(k), t):
                p_schema.append(f"{label}: property {k} missing or not {t.__name__}")
        if pr.get("level") not in LEVELS:
            p_schema.append(f"{label}: level {pr.get('level')!r}")
        if pr.get("level") == "neighborhood" and pr.get("parent_code") is not None:
            p_schema.append(f"{label}: neighborhood parent_code must be null")
        if pr.get("level") in PARENT_LEVEL and not isinstance(pr.get("parent_code"), str):
            p_schema.append(f"{label}: parent_code must be a string")
        if not RFC3339.match(str(pr.get("valid_from"))):
            p_schema.append(f"{label}: valid_from not RFC 3339")
        if code in grids:
            p_schema.append(f"{label}: duplicate code")
        grids[code] = check_raw_geometry(label, f.get("geometry"), p_geom)
        gprops[code] = pr
    buildings, bprops = {}, {}
    for i, f in enumerate(bfeats):
        pr = f.get("properties") or {}
        bid = pr.get("id")
        label = f"building {bid or '#' + str(i)}"
        for k, t in (("id", str), ("name", str), ("name_en", str), ("aliases", list), ("addresses", list),
                     ("grid_code", str), ("enterprises", int), ("employees", int), ("party_members", int),
                     ("floor_area_m2", (int, float))):
            v = pr.get(k)
            if not isinstance(v, t) or isinstance(v, bool):
                p_schema.append(f"{label}: property {k} missing or of wrong type")
        if not pr.get("addresses") or not all(isinstance(a, str) and a for a in pr.get("addresses", [])):
            p_schema.append(f"{label}: addresses must be a non-empty list of strings")
        if not all(isinstance(a, str) and a for a in pr.get("aliases", [])):
            p_schema.append(f"{label}: aliases must be strings")
        for k in ("enterprises", "employees", "party_members", "floor_area_m2"):
            if isinstance(pr.get(k), (int, float)) and pr[k] < 0:
                p_schema.append(f"{label}: {k} negative")
        if bid in buildings:
            p_schema.append(f"{label}: duplicate id")
        buildings[bid] = check_raw_geometry(label, f.get("geometry"), p_geom)
        bprops[bid] = pr
        if f.get("geometry", {}).get("type") != "Polygon":
            p_geom.append(f"{label}: footprint must be a Polygon")
    rule("files parse; grid and building properties have the documented names and types", p_schema)
    rule("every polygon valid: closed rings, in range, 7 decimals, CCW exterior / CW holes, no self-intersection", p_geom)
    if not grids or not buildings:
        return

    by_level = defaultdict(list)
    for c, pr in gprops.items():
        by_level[pr.get("level")].append(c)

    # --- codes ---------------------------------------------------------------
    p = []
    subdistricts = set()
    for ref in (ROOT.parent / "shared" / "reference" / "jingan-subdistricts.csv",
                Path("/work/shared/reference/jingan-subdistricts.csv")):
        if ref.exists():
            with ref.open(encoding="utf-8") as f:
                subdistricts = {r["code"] for r in csv.DictReader(f)}
            break
    for c, pr in gprops.items():
        lvl = pr.get("level")
        if lvl not in LEVELS:
            continue
        if not re.fullmatch(r"\d{%d}" % LEVELS[lvl], c):
            p.append(f"{c}: a {lvl} code has {LEVELS[lvl]} digits")
        if lvl in PARENT_LEVEL:
            par = pr.get("parent_code")
            if par not in gprops:
                p.append(f"{c}: parent {par} does not exist")
            elif gprops[par].get("level") != PARENT_LEVEL[lvl]:
                p.append(f"{c}: parent {par} is not a {PARENT_LEVEL[lvl]}")
            elif not c.startswith(par):
                p.append(f"{c}: code does not start with parent code {par}")
        if lvl == "neighborhood" and subdistricts and c[:9] not in subdistricts:
            p.append(f"{c}: {c[:9]} is not an official Jing'an sub-district code")
    if not subdistricts:
        print("note: shared/reference not found; sub-district codes not checked against it")
    rule("codes: 11/13/16 digits, child code = parent code + suffix, parent one level up, official 9-digit prefix", p)

    n_h, n_g, n_b = (len(by_level[x]) for x in ("neighborhood", "building_group", "building"))
    p = []
    if n_h < 3:
        p.append(f"{n_h} neighborhood grids (< 3)")
    if n_g < 8:
        p.append(f"{n_g} building-group grids (< 8)")
    if n_b < 27:
        p.append(f"{n_b} building grids (< 27)")
    rule(f"counts: {n_h} neighborhoods >= 3, {n_g} building groups >= 8, {n_b} building grids >= 27", p)

    # --- geometry rules ---------------------------------------------------------
    p = []
    for c, pr in gprops.items():
        par = pr.get("parent_code")
        if par in grids and grids[c] is not None and grids[par] is not None:
            out = area_m2(grids[c].difference(grids[par]))
            if out > TOL_M2:
                p.append(f"{c}: {out:.2f} m2 outside parent {par}")
    rule(f"every child grid covered by its parent (area outside <= {TOL_M2} m2)", p)

    p = []
    for lvl, codes in by_level.items():
        geoms = [grids[c] for c in codes]
        tree = STRtree(geoms)
        for i, j in zip(*tree.query(geoms, predicate="intersects")):
            if i < j:
                ov = area_m2(geoms[i].intersection(geoms[j]))
                if ov > TOL_M2:
                    p.append(f"{lvl} {codes[i]} and {codes[j]} overlap by {ov:.2f} m2")
    rule(f"siblings (same level) do not overlap (intersection <= {TOL_M2} m2)", p)

    p = []
    hood_union = unary_union([grids[c] for c in by_level["neighborhood"]])
    total_km2 = area_m2(hood_union) / 1e6
    if hood_union.geom_type != "Polygon":
        p.append(f"neighborhoods do not form one contiguous area ({hood_union.geom_type})")
    elif hood_union.interiors:
        p.append(f"neighborhoods leave {len(hood_union.interiors)} gap(s) inside their union")
    if total_km2 < MIN_AREA_KM2:
        p.append(f"neighborhood area {total_km2:.3f} km2 < {MIN_AREA_KM2}")
    # neighbours share borders exactly: every neighborhood touches another along a line
    for c in by_level["neighborhood"]:
        shared = sum(grids[c].boundary.intersection(grids[o].boundary).length
                     for o in by_level["neighborhood"] if o != c)
        if shared == 0:
            p.append(f"{c} shares no border with another neighborhood")
    rule(f"neighborhoods tile one contiguous area without gaps, {total_km2:.3f} km2 >= {MIN_AREA_KM2} km2", p)

    p = []
    for c in by_level["neighborhood"]:
        kids = [grids[k] for k in by_level["building_group"] if gprops[k]["parent_code"] == c]
        if not kids:
            p.append(f"{c}: no building groups")
            continue
        gap = area_m2(grids[c].difference(unary_union(kids)))
        if gap > TOL_M2:
            p.append(f"{c}: building groups leave {gap:.2f} m2 uncovered")
    rule("building groups tile their neighborhood", p)

    # --- buildings --------------------------------------------------------------
    p = []
    margins = []
    for bid, g in buildings.items():
        gc = bprops[bid].get("grid_code")
        if gc not in gprops or gprops[gc].get("level") != "building":
            p.append(f"{bid}: grid_code {gc} is not a building grid")
            continue
        out = area_m2(g.difference(grids[gc]))
        if out > TOL_M2:
            p.append(f"{bid}: {out:.2f} m2 of the footprint lies outside grid {gc}")
        margin = metric(grids[gc]).exterior.distance(metric(g))
        margins.append(margin)
        if margin < FOOTPRINT_MARGIN_M:
            p.append(f"{bid}: footprint only {margin:.1f} m from the edge of grid {gc}")
    rule(f"every footprint inside its building grid, >= {FOOTPRINT_MARGIN_M} m from its edge "
         f"(smallest margin {min(margins or [0]):.1f} m)", p)

    p = []
    count = Counter(pr.get("grid_code") for pr in bprops.values())
    for c in by_level["building"]:
        if count[c] != 1:
            p.append(f"building grid {c} holds {count[c]} buildings by grid_code")
    bgeoms = [grids[c] for c in by_level["building"]]
    tree = STRtree(bgeoms)
    for bid, g in buildings.items():
        hits = [by_level["building"][i] for i in tree.query(g.representative_point(), predicate="within")]
        if hits != [bprops[bid].get("grid_code")]:
            p.append(f"{bid}: footprint point lies in building grids {hits}, grid_code {bprops[bid].get('grid_code')}")
    rule("each building grid holds exactly one building (by grid_code and by location)", p)

    p = []
    names = {pr["name"]: bid for bid, pr in bprops.items()}
    for name, (lon, lat) in CALIBRATION.items():
        if name not in names:
            p.append(f"{name} missing")
            continue
        c = buildings[names[name]].centroid
        d = GEOD.inv(lon, lat, c.x, c.y)[2]
        if d > CALIBRATION_TOL_M:
            p.append(f"{name}: footprint centre {d:.0f} m from the OSM centre")
    plaza = [pr for pr in bprops.values() if "南京西路1266号" in pr.get("addresses", [])]
    if not plaza or plaza[0]["name"] != "恒隆广场":
        p.append("恒隆广场 (南京西路1266号) missing")
    rule(f"calibration: 静安寺 and 上海展览中心 within {CALIBRATION_TOL_M:.0f} m of OSM centres; Plaza 66 present", p)

    p = []
    seen = {}
    lanes = lane_numbered = two_roads = 0
    for bid, pr in bprops.items():
        addrs = pr.get("addresses", [])
        for a in addrs:
            if not re.fullmatch(r"[\u4e00-\u9fff]+路\d+(弄(\d+号)?|号)", a):
                p.append(f"{bid}: address {a!r} not in door-plate form (…路N号 / …路N弄[M号])")
            if a in seen:
                p.append(f"{bid}: address {a!r} also used by {seen[a]}")
            seen[a] = bid
        lanes += any("弄" in a for a in addrs)
        lane_numbered += any(re.search(r"弄\d+号$", a) for a in addrs)
        roads = {re.match(r"[\u4e00-\u9fff]+?路", a).group(0) for a in addrs if re.match(r"[\u4e00-\u9fff]+?路", a)}
        two_roads += len(roads) >= 2
    if lanes < 2:
        p.append(f"only {lanes} buildings with a lane (弄) address")
    if lane_numbered < 2:
        p.append(f"only {lane_numbered} buildings with a lane address with house number (…弄N号)")
    if two_roads < 2:
        p.append(f"only {two_roads} buildings with addresses on two roads")
    rule(f"addresses: door-plate form, unique; {lanes} buildings with lane addresses "
         f"({lane_numbered} as …弄N号); {two_roads} with entrances on two roads", p)

    # House-number parity on 南京西路: odd numbers south of the road, even numbers north.
    p = []
    sys.dont_write_bytecode = True  # importing build_sample must not leave __pycache__ behind
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import build_sample as bs
        njw = LineString([bs.NODES[n] for n in bs.ROADS["南京西路"][1]])
    except Exception as e:  # noqa: BLE001
        njw = None
        p.append(f"cannot read the 南京西路 polyline from build_sample.py: {e}")
    if njw is not None:
        for bid, pr in bprops.items():
            for a in pr.get("addresses", []):
                m = re.fullmatch(r"南京西路(\d+)(号|弄)", a)
                if not m:
                    continue
                c = buildings[bid].centroid
                pos = njw.project(c)
                a0, a1 = njw.interpolate(max(pos - 1e-5, 0)), njw.interpolate(pos + 1e-5)
                side = (a1.x - a0.x) * (c.y - a0.y) - (a1.y - a0.y) * (c.x - a0.x)  # >0: left = north
                north = side > 0
                if (int(m.group(1)) % 2 == 0) != north:
                    p.append(f"{bid} {pr['name']}: {a} but the footprint is on the {'north' if north else 'south'} side")
    rule("南京西路 house numbers: even on the north side, odd on the south side", p)

    # --- people, leaders, teams ----------------------------------------------------
    p = []
    people = {}
    try:
        with (DATA / "people.csv").open(encoding="utf-8", newline="") as f:
            r = csv.reader(f)
            if next(r) != ["id", "name", "phone", "email"]:
                p.append("people.csv header must be id,name,phone,email")
            for row in r:
                if len(row) != 4:
                    p.append(f"people.csv: bad row {row}")
                    continue
                pid, name, phone, email = row
                if pid in people:
                    p.append(f"people.csv: duplicate id {pid}")
                people[pid] = row
                if not re.fullmatch(r"021-5555-\d{4}", phone):
                    p.append(f"{pid}: phone {phone} not in the fictitious 021-5555-xxxx range")
                if not email.endswith("@example.org"):
                    p.append(f"{pid}: email {email} not at example.org")
                if not name:
                    p.append(f"{pid}: empty name")
    except OSError as e:
        p.append(f"people.csv: {e}")
    rule(f"people.csv: {len(people)} fictitious people, unique ids, 021-5555 phones, example.org emails", p)

    p = []
    roles = defaultdict(dict)
    try:
        with (DATA / "leaders.csv").open(encoding="utf-8", newline="") as f:
            r = csv.DictReader(f)
            if r.fieldnames != ["grid_code", "role", "person_id"]:
                p.append("leaders.csv header must be grid_code,role,person_id")
            for row in r:
                g, role, pid = row["grid_code"], row["role"], row["person_id"]
                if g not in gprops:
                    p.append(f"leaders.csv: unknown grid {g}")
                if role not in ("bac_convener", "party_worker"):
                    p.append(f"leaders.csv: unknown role {role}")
                if pid not in people:
                    p.append(f"leaders.csv: unknown person {pid}")
                if role in roles[g]:
                    p.append(f"leaders.csv: {g} has two {role}")
                roles[g][role] = pid
    except OSError as e:
        p.append(f"leaders.csv: {e}")
    for c in by_level["neighborhood"]:
        for role in ("bac_convener", "party_worker"):
            if role not in roles[c]:
                p.append(f"neighborhood {c} has no {role}")
    vac_b_conv = [c for c in by_level["building"] if roles[c] and "bac_convener" not in roles[c]]
    vac_b_all = [c for c in by_level["building"] if not roles[c]]
    vac_g = [(c, r) for c in by_level["building_group"] for r in ("bac_convener", "party_worker") if r not in roles[c]]
    if len(vac_b_conv) < 2:
        p.append("fewer than 2 building grids with only the bac_convener vacant")
    if len(vac_b_all) < 2:
        p.append("fewer than 2 building grids with no leaders at all")
    if not any(r == "party_worker" for _, r in vac_g):
        p.append("no building group without a party_worker")
    rule(f"leaders.csv: known grids/people, neighborhoods fully staffed; vacant on purpose: "
         f"{len(vac_g)} group roles, {len(vac_b_conv)} building conveners, {len(vac_b_all)} building grids with none", p)

    p = []
    try:
        teams = json.loads((DATA / "teams.json").read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        teams = []
        p.append(f"teams.json: {e}")
    team_of = defaultdict(list)
    for t in teams:
        for k, typ in (("id", str), ("name", str), ("grid_codes", list), ("members", list)):
            if not isinstance(t.get(k), typ):
                p.append(f"team {t.get('id')}: {k} missing or not {typ.__name__}")
        for g in t.get("grid_codes", []):
            if g not in gprops:
                p.append(f"team {t.get('id')}: unknown grid {g}")
            team_of[g].append(t.get("id"))
        for m in t.get("members", []):
            if set(m) - {"name", "department", "specialty", "phone", "email"} or not all(
                    isinstance(m.get(k), str) and m.get(k) for k in ("name", "department", "specialty")):
                p.append(f"team {t.get('id')}: bad member {m}")
            if m.get("specialty") not in SPECIALTIES:
                p.append(f"team {t.get('id')}: specialty {m.get('specialty')!r}")
            if "phone" in m and not re.fullmatch(r"021-5555-\d{4}", m["phone"]):
                p.append(f"team {t.get('id')}: phone {m['phone']} not fictitious")
    if len({t.get("id") for t in teams}) != len(teams):
        p.append("teams.json: duplicate team ids")
    unresolved = []
    for c in by_level["building"]:
        chain, x = [], c
        while x:
            chain.append(x)
            x = gprops[x].get("parent_code")
        if not any(team_of[y] for y in chain):
            unresolved.append(c)
    if unresolved:
        p.append(f"building grids with no team even by fallback: {unresolved}")
    direct = [c for c in gprops if team_of[c]]
    no_direct = [c for c in gprops if not team_of[c]]
    if not no_direct:
        p.append("every grid has its own team: fallback would never show")
    rule(f"teams.json: {len(teams)} teams, valid specialties, known grids; {len(direct)} grids with a team, "
         f"{len(no_direct)} resolved by fallback", p)

    # --- report -------------------------------------------------------------------------
    return


if __name__ == "__main__":
    main()
    failed = 0
    for name, ok, problems in results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
        for pr in problems[:20]:
            print(f"        - {pr}")
        if len(problems) > 20:
            print(f"        … and {len(problems) - 20} more")
        failed += not ok
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
