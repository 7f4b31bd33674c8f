"""ETSI NGSI-LD (and FIWARE Smart Data Models) in; incidents and sensors out as NGSI-LD."""
