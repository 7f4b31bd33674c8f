-- Version 8: command proposals. A street command an automation rule wants (raising bollards)
-- waits here for a person to confirm or decline it. Kept whole as JSON beside the columns
-- queries filter on. A pending proposal past expires_us reads as expired; nothing rewrites it.

CREATE TABLE command_proposals (
    id          TEXT NOT NULL PRIMARY KEY,
    incident_id TEXT,
    rule_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_us  BIGINT NOT NULL,
    expires_us  BIGINT NOT NULL,
    version     INTEGER NOT NULL,
    doc_json    TEXT NOT NULL
);

CREATE INDEX command_proposals_incident ON command_proposals (incident_id, id);
CREATE INDEX command_proposals_status ON command_proposals (status, expires_us);
