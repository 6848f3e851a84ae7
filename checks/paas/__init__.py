"""paas checks."""
