-- Shared part of version 1: portable tables and every index. Times are BIGINT microseconds
-- since the Unix epoch (UTC); JSON is TEXT; floats are DOUBLE PRECISION (REAL is 4 bytes in
-- PostgreSQL).

CREATE TABLE incidents (
    id             TEXT NOT NULL PRIMARY KEY,
    type           TEXT NOT NULL,
    title          TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    status         TEXT NOT NULL,
    lon            DOUBLE PRECISION,
    lat            DOUBLE PRECISION,
    alt_m          DOUBLE PRECISION,
    accuracy_m     DOUBLE PRECISION,
    opened_us      BIGINT NOT NULL,
    updated_us     BIGINT NOT NULL,
    first_event_us BIGINT NOT NULL,
    last_event_us  BIGINT NOT NULL,
    closed_us      BIGINT,
    closure_reason TEXT,
    event_count    INTEGER NOT NULL,
    agency_id      TEXT,
    assignee       TEXT,
    units_json     TEXT NOT NULL,
    summary        TEXT NOT NULL,
    version        INTEGER NOT NULL
);

-- The primary key makes an event belong to at most one incident.
CREATE TABLE incident_events (
    source      TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    linked_us   BIGINT NOT NULL,
    PRIMARY KEY (source, event_id),
    FOREIGN KEY (source, event_id) REFERENCES events (source, id)
);

CREATE TABLE sensors (
    id             TEXT NOT NULL PRIMARY KEY,
    kind           TEXT NOT NULL,
    name           TEXT NOT NULL,
    owner_agency   TEXT NOT NULL,
    lon            DOUBLE PRECISION,
    lat            DOUBLE PRECISION,
    alt_m          DOUBLE PRECISION,
    accuracy_m     DOUBLE PRECISION,
    area           TEXT,
    measures_json  TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    legal_basis    TEXT NOT NULL,
    personal_data  BOOLEAN NOT NULL,
    retention_days INTEGER NOT NULL,
    is_public      BOOLEAN NOT NULL,
    status         TEXT NOT NULL,
    created_us     BIGINT NOT NULL,
    updated_us     BIGINT NOT NULL
);

CREATE TABLE agencies (
    id   TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL
);

CREATE TABLE users (
    id           TEXT NOT NULL PRIMARY KEY,
    agency_id    TEXT NOT NULL REFERENCES agencies (id),
    display_name TEXT NOT NULL,
    role         TEXT NOT NULL,
    active       BOOLEAN NOT NULL
);

CREATE TABLE api_tokens (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    label      TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    expires_us BIGINT,
    revoked_us BIGINT
);

CREATE INDEX events_time ON events (time_us);
CREATE INDEX events_type ON events (type);
CREATE INDEX events_lat_lon ON events (lat, lon);

CREATE INDEX incidents_updated ON incidents (updated_us);
CREATE INDEX incidents_last_event ON incidents (last_event_us);
CREATE INDEX incidents_type ON incidents (type);
CREATE INDEX incidents_lat_lon ON incidents (lat, lon);

CREATE INDEX incident_events_incident ON incident_events (incident_id);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, seq);

CREATE INDEX sensors_kind ON sensors (kind);
CREATE INDEX sensors_owner ON sensors (owner_agency);

CREATE INDEX users_agency ON users (agency_id);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
CREATE INDEX audit_log_actor ON audit_log (actor);
CREATE INDEX audit_log_at ON audit_log (at_us);
