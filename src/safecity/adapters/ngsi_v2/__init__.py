"""FIWARE NGSI v2 (Orion notifications and entities, Smart Data Models) in."""
