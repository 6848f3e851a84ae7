"""The thin command-line layer."""
