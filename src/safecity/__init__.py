"""safecity: events in, incidents out, for the organisations that keep a city safe."""

__version__ = "0.1.0"
