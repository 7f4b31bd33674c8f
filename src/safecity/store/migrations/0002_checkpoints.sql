-- Version 2: how far each stream processor has got, so a restart resumes where it stopped.
-- seq is the store's event sequence number; every event at or below it has been processed.

CREATE TABLE processor_checkpoints (
    name       TEXT NOT NULL PRIMARY KEY,
    seq        BIGINT NOT NULL,
    updated_us BIGINT NOT NULL
);
