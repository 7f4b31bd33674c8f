"""CAP 1.0/1.1/1.2 alerts and the Atom/RSS feeds that carry them; CAP 1.2 out."""
