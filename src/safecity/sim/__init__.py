"""Demo city simulator: Helsinki centre map data and a seeded, deterministic event generator."""
