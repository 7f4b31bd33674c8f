"""Generic webhook with a declarative mapping: a legacy JSON or CSV record format, no code."""
