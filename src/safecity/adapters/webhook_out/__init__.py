"""Outbound webhooks: incident changes and events POSTed to other systems, signed and retried."""
