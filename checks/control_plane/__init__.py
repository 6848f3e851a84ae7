"""control_plane checks."""
