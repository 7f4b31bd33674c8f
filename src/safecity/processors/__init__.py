"""Stream processors: each consumes events from the bus and produces incidents or events."""
