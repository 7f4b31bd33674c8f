"""OGC SensorThings API 1.1 in: Observations to events, Things and Datastreams to the register."""
