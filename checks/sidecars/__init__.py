"""sidecars checks."""
