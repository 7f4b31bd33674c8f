"""NENA EIDO (Emergency Incident Data Object): CAD incidents in and out, as JSON."""
