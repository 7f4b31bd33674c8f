-- Version 3: what operations need on an incident. details_json holds the signals behind its
-- priority, the priority assessment and any override, the agencies involved and the procedure
-- checklist; area and merged_into are columns because people filter on them.
-- Each link now records why it was made (the fusion rule, distance and time gap).

ALTER TABLE incidents ADD COLUMN details_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE incidents ADD COLUMN area TEXT;
ALTER TABLE incidents ADD COLUMN merged_into TEXT;
ALTER TABLE incident_events ADD COLUMN reason_json TEXT NOT NULL DEFAULT '{}';

CREATE INDEX incidents_area ON incidents (area);
