"""Automations: rules that turn events and incident changes into traced action plans."""
