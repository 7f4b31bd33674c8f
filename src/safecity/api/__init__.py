"""HTTP API (FastAPI): REST, live stream, metrics; everything goes through the services."""
