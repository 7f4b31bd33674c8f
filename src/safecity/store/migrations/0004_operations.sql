-- Version 4: operations. Each record is a JSON document (doc_json) beside the columns people
-- filter and sort on; ids are time-sortable ULIDs, so "ORDER BY id" is creation order.

CREATE TABLE units (
    id          TEXT NOT NULL PRIMARY KEY,
    agency_id   TEXT NOT NULL,
    status      TEXT NOT NULL,
    updated_us  BIGINT NOT NULL,
    version     INTEGER NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE TABLE unit_log (
    id          TEXT NOT NULL PRIMARY KEY,
    unit_id     TEXT NOT NULL REFERENCES units (id),
    incident_id TEXT,
    at_us       BIGINT NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE TABLE dispatch_decisions (
    id          TEXT NOT NULL PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    at_us       BIGINT NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE TABLE channels (
    id          TEXT NOT NULL PRIMARY KEY,
    kind        TEXT NOT NULL,
    incident_id TEXT UNIQUE,
    created_us  BIGINT NOT NULL,
    closed_us   BIGINT,
    doc_json    TEXT NOT NULL
);

CREATE TABLE channel_messages (
    id          TEXT NOT NULL PRIMARY KEY,
    channel_id  TEXT NOT NULL REFERENCES channels (id),
    at_us       BIGINT NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE TABLE message_receipts (
    message_id      TEXT NOT NULL REFERENCES channel_messages (id),
    agency_id       TEXT NOT NULL,
    delivered_us    BIGINT,
    acknowledged_us BIGINT,
    acknowledged_by TEXT,
    PRIMARY KEY (message_id, agency_id)
);

CREATE TABLE automation_traces (
    id          TEXT NOT NULL PRIMARY KEY,
    at_us       BIGINT NOT NULL,
    rule_id     TEXT NOT NULL,
    incident_id TEXT,
    fired       BOOLEAN NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE TABLE alert_drafts (
    id          TEXT NOT NULL PRIMARY KEY,
    incident_id TEXT,
    status      TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    version     INTEGER NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE INDEX units_agency ON units (agency_id, status);
CREATE INDEX unit_log_unit ON unit_log (unit_id, at_us);
CREATE INDEX unit_log_incident ON unit_log (incident_id, at_us);
CREATE INDEX dispatch_decisions_incident ON dispatch_decisions (incident_id, at_us);
CREATE INDEX channels_kind ON channels (kind, closed_us);
CREATE INDEX channel_messages_channel ON channel_messages (channel_id, id);
CREATE INDEX automation_traces_incident ON automation_traces (incident_id, id);
CREATE INDEX automation_traces_rule ON automation_traces (rule_id, id);
CREATE INDEX alert_drafts_status ON alert_drafts (status, created_us);
