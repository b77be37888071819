-- Versions, history of building-grid assignments, and planners' drafts.
--
-- * atlas_versions: the version log. Every committed write of the atlas (seed, leader change,
--   building upsert, publish) appends version = previous + 1 in its own transaction.
-- * building_grids: which building grid each building belonged to, when (buildings.grid_code
--   stays the current value).
-- * plans: planners' drafts and what their publish made. Plan writes are not atlas writes:
--   they append no version.
-- Rows of atlas_versions and building_grids are history and are never deleted.

CREATE TABLE plans (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL,
    base_version      INTEGER NOT NULL CHECK (base_version >= 0),
    status            TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    published_version INTEGER REFERENCES atlas_versions (version),
    changes           TEXT NOT NULL,                -- the plan's content (JSON), kept as text
    CHECK ((status = 'published') = (published_version IS NOT NULL))
);

CREATE TABLE atlas_versions (
    version INTEGER PRIMARY KEY CHECK (version > 0),
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,   -- seed, replace_leaders, upsert_buildings, publish
    plan_id INTEGER REFERENCES plans (id)
);

-- No foreign key to buildings: buildings are never deleted, and the store writes both tables in
-- one transaction.
CREATE TABLE building_grids (
    id          INTEGER PRIMARY KEY,
    building_id TEXT NOT NULL,
    grid_code   TEXT,
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX building_grids_current ON building_grids (building_id) WHERE valid_to IS NULL;
CREATE INDEX building_grids_building ON building_grids (building_id, valid_from);

-- The atlas at a moment (valid_from <= t < valid_to) and its change points (the latest
-- valid_from or valid_to at or before t, one index probe per column).
CREATE INDEX grids_valid_from ON grids (valid_from);
CREATE INDEX grids_valid_to ON grids (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX leader_assignments_valid_from ON leader_assignments (valid_from);
CREATE INDEX leader_assignments_valid_to ON leader_assignments (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX leader_assignments_grid ON leader_assignments (grid_code, valid_from);
CREATE INDEX team_assignments_valid_from ON team_assignments (valid_from);
CREATE INDEX team_assignments_valid_to ON team_assignments (valid_to) WHERE valid_to IS NOT NULL;
CREATE INDEX team_assignments_grid_history ON team_assignments (grid_code, valid_from);
CREATE INDEX building_grids_valid_from ON building_grids (valid_from);
CREATE INDEX building_grids_valid_to ON building_grids (valid_to) WHERE valid_to IS NOT NULL;

-- Backfill an atlas seeded before this migration: version 1 at the seed, and every building's
-- current grid since the start of that grid's current version.
INSERT INTO atlas_versions (version, at, actor, action)
SELECT 1,
       COALESCE((SELECT at FROM audit_log WHERE action = 'seed' ORDER BY id LIMIT 1),
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
       COALESCE((SELECT actor FROM audit_log WHERE action = 'seed' ORDER BY id LIMIT 1),
                'migration'),
       'seed'
 WHERE EXISTS (SELECT 1 FROM grids);

INSERT INTO building_grids (building_id, grid_code, valid_from)
SELECT b.id,
       b.grid_code,
       COALESCE((SELECT g.valid_from FROM grids g WHERE g.code = b.grid_code AND g.valid_to IS NULL),
                (SELECT MIN(valid_from) FROM grids),
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
  FROM buildings b;

-- History is never deleted.
CREATE TRIGGER atlas_versions_no_delete BEFORE DELETE ON atlas_versions
BEGIN
    SELECT RAISE(ABORT, 'rows of atlas_versions are history and are never deleted');
END;
CREATE TRIGGER building_grids_no_delete BEFORE DELETE ON building_grids
BEGIN
    SELECT RAISE(ABORT, 'rows of building_grids are history and are never deleted; set valid_to instead');
END;
