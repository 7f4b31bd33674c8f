"""MQTT: a broker connector feeding any inbound mapping, and plain JSON telemetry by topic."""
