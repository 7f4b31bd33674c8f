-- Version 5: a camera's view (direction, field of view, range) for the console's map and the
-- coverage analysis; JSON so other device kinds can add their own geometry later.

ALTER TABLE sensors ADD COLUMN view_json TEXT;
