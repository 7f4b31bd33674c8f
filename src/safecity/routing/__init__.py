"""Drive times on a packaged road network, and ranking responder units by them."""
