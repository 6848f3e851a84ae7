"""A checkout runs its own code (issue 26): the meshinstall these tests import, and the `meshinstall` command that the
scripts put on PATH (the integration tests run it), are this checkout's, installed into its own `.venv` by
scripts/setup.sh, never another checkout's installed into the machine's Python."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import meshinstall

VENV = ROOT / ".venv"
WHERE = "import meshinstall; print(meshinstall.__file__)"


def test_the_imported_meshinstall_is_this_checkouts():
    assert Path(meshinstall.__file__).resolve().parent == ROOT


def test_the_meshinstall_command_on_path_is_this_checkouts():
    if Path(os.environ.get("VIRTUAL_ENV") or "/nonexistent").resolve() != VENV.resolve():
        pytest.skip(
            f"run through scripts/test.sh, or with {VENV} activated (. .venv/bin/activate), "
            f"to check the `meshinstall` on PATH ({shutil.which('meshinstall') or 'none'})"
        )
    assert Path(sys.prefix).resolve() == VENV.resolve(), "the tests run in another Python than the checkout's .venv"
    command = shutil.which("meshinstall")
    assert command is not None, "no `meshinstall` on PATH: scripts/setup.sh installs it into .venv/bin"
    assert Path(command).parent.resolve() == (VENV / "bin").resolve()
    # Its interpreter (named in its first lines by pip) is the .venv's, whose meshinstall is this checkout's code
    head = Path(command).read_text().splitlines()[:3]
    assert any(str(VENV / "bin" / "python") in line for line in head), head
    where = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", WHERE], capture_output=True, text=True, check=True, cwd="/"
    )
    assert Path(where.stdout.strip()).resolve().parent == ROOT
