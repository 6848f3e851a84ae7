"""meshinstall: one validated mesh spec per environment becomes a service-mesh platform."""

import os
from pathlib import Path

__version__ = "0.1.0"

TOOLCHAIN_VARIABLE = "MESHINSTALL_TOOLCHAIN_DIR"


def cache_dir() -> Path:
    """meshinstall's folder in the user's cache (`$XDG_CACHE_HOME`, else ~/.cache): the toolchain, validated specs."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "meshinstall"


def toolchain_root() -> Path:
    """Root of the toolchain cache that `toolchain/install.sh` fills (outside any repository)."""
    return Path(os.environ.get(TOOLCHAIN_VARIABLE, cache_dir() / "toolchain"))


def search_path() -> str:
    """PATH for the engine and the simulated cluster's binaries: the current PATH with the toolchain cache's
    `current` folder (what `toolchain/install.sh` built last) after it."""
    parts = os.environ.get("PATH", "").split(os.pathsep)
    current = toolchain_root() / "current" / "bin"
    cached = [str(current.resolve())] if current.is_dir() else []
    return os.pathsep.join([*parts, *(b for b in cached if b not in parts)])
