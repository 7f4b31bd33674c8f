"""Helpers every adapter may use (XML safety, time parsing); adapters never import each other."""
