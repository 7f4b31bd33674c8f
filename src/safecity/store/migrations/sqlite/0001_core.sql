-- SQLite part of version 1: tables whose keys or byte columns differ by dialect, and the
-- audit log's guards. It runs before the shared part, which may refer to these tables.

-- The store assigns event sequence numbers itself (max + 1, inside the write transaction);
-- AUTOINCREMENT would only add a sqlite_sequence update to every insert on the hottest path.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    source         TEXT NOT NULL,
    id             TEXT NOT NULL,
    type           TEXT NOT NULL,
    time_us        BIGINT NOT NULL,
    subject        TEXT,
    dataschema     TEXT,
    lon            DOUBLE PRECISION,
    lat            DOUBLE PRECISION,
    alt_m          DOUBLE PRECISION,
    accuracy_m     DOUBLE PRECISION,
    severity       TEXT NOT NULL,
    confidence     DOUBLE PRECISION NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    actor          TEXT,
    data_json      TEXT NOT NULL,
    received_us    BIGINT NOT NULL,
    UNIQUE (source, id)
);

CREATE TABLE incident_timeline (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  TEXT NOT NULL,
    at_us        BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    details_json TEXT NOT NULL
);

CREATE TABLE dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    received_us  BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    source       TEXT,
    content_type TEXT,
    raw          BLOB NOT NULL,
    errors_json  TEXT NOT NULL
);

CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us        BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    agency_id    TEXT,
    purpose      TEXT NOT NULL,
    action       TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT,
    outcome      TEXT NOT NULL,
    details_json TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);

-- The hash chain shows tampering after the fact; these refuse it up front, even to SQL clients.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;
