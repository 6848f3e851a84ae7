"""Shared fixtures: the repository's environments, mock runs of the program, an isolated CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The official charts (and the Gateway API CRDs) come from the offline mirror that scripts/env.sh names.
CHARTS = Path(os.environ.setdefault("MESHINSTALL_CHARTS_MIRROR", str(ROOT.parent / "shared" / "charts")))

SECRETS = {"GRAFANA_ADMIN_PASSWORD": "grafana-pw-123", "CHECKOUT_DB_PASSWORD": "db-pw-456"}


@pytest.fixture
def environments() -> Path:
    """The repository's environments/ folder."""
    return ROOT / "environments"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a copy of environments/, its own HOME, PULUMI_HOME and no inherited secrets."""
    import shutil

    shutil.copytree(ROOT / "environments", tmp_path / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
    for name in ("MESHINSTALL_PASSPHRASE", *SECRETS):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
