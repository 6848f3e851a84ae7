"""Reads, merges and validates mesh specs; the only place that reads spec files."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError

ENVIRONMENTS_DIR = "environments"


def resolve_environment(name_or_path: str, root: Path | None = None) -> Path:
    """`dev` -> `environments/dev.yaml`; a path to an existing file is taken as is."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if candidate.is_file():
            return candidate
        raise UsageError(f"spec file {name_or_path} not found")
    folder = (root or Path.cwd()) / ENVIRONMENTS_DIR
    for suffix in (".yaml", ".yml"):
        path = folder / f"{name_or_path}{suffix}"
        if path.is_file():
            return path
    known = [p.stem for p in environment_files(root)] if folder.is_dir() else []  # never a base other files extend
    listing = (
        f" (known: {', '.join(known)})" if known else f" (no {ENVIRONMENTS_DIR}/ folder here; run `meshinstall init`)"
    )
    raise UsageError(f"no environment {name_or_path!r}: {folder / (name_or_path + '.yaml')} does not exist{listing}")


def environment_files(root: Path | None = None) -> list[Path]:
    """Spec files of `environments/` that are environments, not only bases other files extend."""
    import yaml  # local: keeps `meshinstall --version` light

    folder = (root or Path.cwd()) / ENVIRONMENTS_DIR
    files = sorted(folder.glob("*.yaml"))
    bases = set()
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            bases.add((path.parent / data["extends"]).resolve())
    return [p for p in files if p.resolve() not in bases]
