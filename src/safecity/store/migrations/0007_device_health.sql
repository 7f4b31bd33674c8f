-- Version 7: device health. One row per key an event may name its device by
-- (safecity.core.device_health.device_keys: the source, its last segment, its last two segments,
-- the payload's sensor_id) and per device a fault report names (lamp_id, bollard_id): the
-- newest event (event time and type) and the newest fault report (its time, and the fault or
-- NULL when cleared). Kept at ingest in the events' own transaction, never moving backwards;
-- rows are per key, not per event, and a health query joins them to the register (sensors).
-- Portable DDL, so it is shared by every dialect. Events stored before this version are not
-- folded in: devices show their first event after the upgrade.

CREATE TABLE device_health (
    device_id         TEXT NOT NULL PRIMARY KEY,
    last_event_us     BIGINT,
    last_event_type   TEXT,
    fault_reported_us BIGINT,
    fault             TEXT
);
