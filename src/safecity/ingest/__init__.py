"""Event intake and event queries: validate, persist before acknowledging, publish; dead-letter."""
