"""Event bus backends implementing :class:`safecity.core.ports.EventBus`."""
