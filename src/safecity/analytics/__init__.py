"""Place-based analytics: forecasting where events are likely, on grid cells, never people."""
