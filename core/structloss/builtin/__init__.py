"""Built-in components, registered as ordinary plugin modules (see ``DEFAULT_PLUGINS``)."""
