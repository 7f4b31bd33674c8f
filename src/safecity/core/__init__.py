"""Pure domain: the event envelope, incidents, registry values, ports and the clock."""
