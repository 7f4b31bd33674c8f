-- Version 6: published place-based forecasts, one per local day; the whole forecast (top cells,
-- fairness card, grid and sparse risks) is kept as a JSON document.

CREATE TABLE forecasts (
    day          TEXT NOT NULL PRIMARY KEY,
    published_us BIGINT NOT NULL,
    doc_json     TEXT NOT NULL
);
