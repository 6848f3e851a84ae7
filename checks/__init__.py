"""Named pre-flight (doctor) and post-install (verify) checks: one small class per file, one registry."""

from __future__ import annotations

from .base import REGISTRY, Check, Context, Result, Status, register

__all__ = ["REGISTRY", "Check", "Context", "Result", "Status", "register", "load_all"]


def load_all() -> dict[str, type[Check]]:
    """Import every check module (each registers itself) and return the registry by id."""
    import importlib
    import pkgutil

    for package in ("preflight", "control_plane", "sidecars", "monitoring", "paas"):
        module = importlib.import_module(f"{__name__}.{package}")
        for info in pkgutil.iter_modules(module.__path__):
            importlib.import_module(f"{module.__name__}.{info.name}")
    return dict(sorted(REGISTRY.items()))
