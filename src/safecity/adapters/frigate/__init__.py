"""Frigate NVR: tracked-object and review messages from MQTT mapped to camera analytics."""
