"""The check registry: stable ids, one documented page each, listed in the index."""

from __future__ import annotations

import re

from conftest import ROOT

from meshinstall.checks import load_all

DOCS = ROOT / "docs" / "checks"


def test_ids_are_stable_and_grouped():
    checks = load_all()
    assert all(re.fullmatch(r"MI[0-4]\d\d", i) for i in checks)
    assert {c.phase for i, c in checks.items() if i.startswith("MI0")} == {"doctor"}
    assert {c.phase for i, c in checks.items() if not i.startswith("MI0")} == {"verify"}


def test_every_check_has_a_page_with_a_failing_and_a_passing_example():
    for check_id, check in load_all().items():
        page = (DOCS / f"{check_id}.md").read_text()
        assert page.startswith(f"# {check_id} {check.title}\n"), check_id
        assert "## Failing example" in page and "## Passing example" in page, check_id


def test_the_index_lists_every_check():
    index = (DOCS / "README.md").read_text()
    for check_id in load_all():
        assert f"[{check_id}]({check_id}.md)" in index, check_id


def test_checks_run_as_a_pytest_suite_on_testinfra_hosts(tmp_path, environments):
    import os
    import subprocess
    import sys

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (environments / "dev.yaml")
        .read_text()
        .replace("nodes: 3", "nodes: 0")
        .replace("extends: base.yaml", f"extends: {environments / 'base.yaml'}")
    )
    env = {**os.environ, "MESHINSTALL_ENV": str(broken), "MESHINSTALL_PHASE": "doctor"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "meshinstall.checks.suite",
            "--hosts=local://",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout
    assert "FAILED" in run.stdout and "test_check[local-MI001]" in run.stdout
    assert "1 failed" in run.stdout and "skipped" in run.stdout


def test_a_check_that_cannot_read_a_file_names_it_instead_of_sending_the_user_to_doctor():
    """Issue 28: MI011, printed by `doctor` itself, hinted "run `meshinstall doctor` for the cause"."""
    from types import SimpleNamespace

    from meshinstall.checks.base import Check

    class Reads(Check):
        id, title, phase = "MI099", "reads the state", "doctor"

        def inspect(self, ctx):
            raise PermissionError(13, "Permission denied", "/srv/state/.pulumi/stacks/meshinstall/dev.json")

    class Breaks(Reads):
        def inspect(self, ctx):
            raise KeyError("checkpoint")

    context = SimpleNamespace(spec=object(), cluster_not_running=False, containerless=False)
    unreadable, broken = Reads().run(context), Breaks().run(context)
    assert "doctor" not in unreadable.hint and "doctor" not in broken.hint
    assert unreadable.hint.startswith("meshinstall could not use /srv/state/.pulumi/stacks/meshinstall/dev.json")
    assert "an error of meshinstall's own in MI099" in broken.hint
