"""Storage backends implementing the ``Store`` port, and the migrations they share."""
