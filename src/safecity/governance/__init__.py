"""Governance: access by role and purpose, the tamper-evident audit log, identities, registers."""
