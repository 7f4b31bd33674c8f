"""Incident lifecycle services: acknowledge, assign, dispatch, update, close, reopen."""
