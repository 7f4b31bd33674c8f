"""Adapters: one plug-in folder per standard or legacy format, loaded lazily by name.

Each folder has ``manifest.py`` (``MANIFEST``), ``config.py`` (a settings model with a ``type``
discriminator), ``mapping.py`` (pure: bytes in, events or precise rejections out) and, where the
standard has its own transport, ``adapter.py`` (I/O). Third-party adapters register under the
``safecity.adapters`` entry-point group and are loaded only when named.
"""
