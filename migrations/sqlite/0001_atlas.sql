-- gridatlas embedded store (SQLite). Geometry is WKB (MultiPolygon, EPSG:4326 lon/lat).
-- Timestamps are RFC 3339 text in UTC. Versioned rows are never deleted: a superseded row
-- gets valid_to, the current row has valid_to NULL.

CREATE TABLE grids (
    version_id  INTEGER PRIMARY KEY,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    name_en     TEXT,
    level       TEXT NOT NULL CHECK (level IN ('neighborhood', 'building_group', 'building')),
    parent_code TEXT,
    geometry    BLOB NOT NULL,
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE UNIQUE INDEX grids_current_code ON grids (code) WHERE valid_to IS NULL;
CREATE INDEX grids_code ON grids (code, valid_from);

CREATE TABLE buildings (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    name_en       TEXT,
    aliases       TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    addresses     TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings, main address first
    grid_code     TEXT,
    footprint     BLOB NOT NULL,
    enterprises   INTEGER NOT NULL DEFAULT 0 CHECK (enterprises >= 0),
    employees     INTEGER NOT NULL DEFAULT 0 CHECK (employees >= 0),
    party_members INTEGER NOT NULL DEFAULT 0 CHECK (party_members >= 0),
    floor_area_m2 REAL NOT NULL DEFAULT 0 CHECK (floor_area_m2 >= 0)
);
CREATE INDEX buildings_grid ON buildings (grid_code);

CREATE TABLE people (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    phone TEXT,
    email TEXT
);

CREATE TABLE leader_assignments (
    id         INTEGER PRIMARY KEY,
    grid_code  TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('bac_convener', 'party_worker')),
    person_id  TEXT NOT NULL REFERENCES people (id),
    valid_from TEXT NOT NULL,
    valid_to   TEXT
);
CREATE UNIQUE INDEX leader_assignments_current ON leader_assignments (grid_code, role) WHERE valid_to IS NULL;

CREATE TABLE service_teams (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE team_members (
    team_id    TEXT NOT NULL REFERENCES service_teams (id),
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    department TEXT NOT NULL,
    specialty  TEXT NOT NULL,
    phone      TEXT,
    email      TEXT,
    PRIMARY KEY (team_id, position)
);

CREATE TABLE team_assignments (
    id         INTEGER PRIMARY KEY,
    team_id    TEXT NOT NULL REFERENCES service_teams (id),
    grid_code  TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to   TEXT
);
CREATE UNIQUE INDEX team_assignments_current ON team_assignments (team_id, grid_code) WHERE valid_to IS NULL;

-- Every write: who, when, what, before and after (JSON).
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    before  TEXT,
    after   TEXT
);
