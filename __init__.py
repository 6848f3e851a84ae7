"""meshinstall: one validated mesh spec per environment becomes a service-mesh platform."""

import os
from pathlib import Path

__version__ = "0.1.0"


def cache_dir() -> Path:
    """meshinstall's folder in the user's cache (`$XDG_CACHE_HOME`, else ~/.cache): the toolchain, validated specs."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "meshinstall"
