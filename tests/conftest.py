"""Shared fixtures: the repository's environments, mock runs of the program, an isolated CLI."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The official charts (and the Gateway API CRDs) come from the offline mirror that scripts/env.sh names.
CHARTS = Path(os.environ.setdefault("MESHINSTALL_CHARTS_MIRROR", str(ROOT.parent / "shared" / "charts")))
# The rest of the shared data (the Score schema and sample), when it is there.
if (ROOT.parent / "shared" / "score").is_dir():
    os.environ.setdefault("MESHINSTALL_SHARED", str(ROOT.parent / "shared"))

SECRETS = {"GRAFANA_ADMIN_PASSWORD": "grafana-pw-123", "CHECKOUT_DB_PASSWORD": "db-pw-456"}

# A test marked `needs_<tool>` runs that tool of the toolchain (toolchain/install.sh builds it; scripts/test.sh puts it
# on PATH). Where the tool is not on PATH (a machine with Python alone) the test is skipped, saying what it needs;
# under MESHINSTALL_REQUIRE_TOOLCHAIN=1 (scripts/test.sh, hence CI) it fails instead, so no run loses it quietly.
TOOLS = {"needs_helm": "helm", "needs_pulumi": "pulumi", "needs_dot": "dot"}
REQUIRE_TOOLCHAIN = "MESHINSTALL_REQUIRE_TOOLCHAIN"


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, tool in TOOLS.items():
        if item.get_closest_marker(marker) is not None and shutil.which(tool) is None:
            reason = f"needs {tool} from the toolchain (toolchain/install.sh; scripts/test.sh puts it on PATH)"
            if os.environ.get(REQUIRE_TOOLCHAIN) == "1":
                pytest.fail(f"{reason}, and {REQUIRE_TOOLCHAIN}=1 says it must be there", pytrace=False)
            pytest.skip(reason)


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
