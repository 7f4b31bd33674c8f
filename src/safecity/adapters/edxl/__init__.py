"""EDXL-DE 1.0 distribution envelopes: validated, then their XML content handed on (CAP...)."""
