"""preflight checks."""
