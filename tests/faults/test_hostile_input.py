"""Issue 28, item 4: input that crashed or hung the CLI gets a clear error and an exit code instead. Offline: each
case is a user's command in-process, as the console script runs it (no traceback may escape)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SECRETS
from test_cli import run

from meshinstall.cli.render import state_snippet

pytestmark = pytest.mark.faults


def test_a_spec_in_a_folder_whose_name_is_not_utf8_validates(tmp_path, monkeypatch):
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/env\xff"))
    shutil.copytree(ROOT / "environments", folder, ignore=shutil.ignore_patterns(".meshinstall"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, out, _ = run("validate", str(folder / "dev.yaml"))
    assert code == 0
    assert "valid: dev" in out
    team = folder / "teams" / "demo"  # a team's Score files there too: their cache is keyed by the path
    team.mkdir(parents=True)
    (team / "hello.yaml").write_text(
        "apiVersion: score.dev/v1b1\nmetadata: {name: hello}\ncontainers:\n  main: {image: registry.example.com/hello:1.0}\n"
    )
    spec = yaml.safe_load((folder / "dev.yaml").read_text())
    spec["paas"] = {"teams": [{"name": "demo", "workloads": "teams/demo"}]}
    (folder / "dev.yaml").write_text(yaml.safe_dump(spec))
    code, out, err = run("validate", str(folder / "dev.yaml"))
    assert (code, "valid: dev" in out) == (0, True), err


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_device_a_fifo_or_a_folder_given_as_the_spec_is_refused_without_reading_it(tmp_path, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    if kind == "device":
        path, what = Path("/dev/zero"), "a device or socket"
    else:
        path, what = tmp_path / "spec.yaml", "a FIFO"
        os.mkfifo(path)
    code, _, err = run("validate", str(path))
    assert code == 3
    assert f"is {what}, not a file (give the path of a spec file)" in err


def test_extends_never_prints_a_file_outside_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = tmp_path / "outside.yaml"
    secret.write_text("db-password-value: 1\nanother-secret-line: 2\n")
    spec = tmp_path / "repo" / "environments" / "dev.yaml"
    spec.parent.mkdir(parents=True)
    for target in ("/etc/passwd", str(secret), "../../outside.yaml"):
        spec.write_text(f"extends: {target}\nmetadata: {{name: dev}}\n")
        code, out, err = run("validate", str(spec))
        assert code == 3
        assert "$.extends: " in err and "is not a spec file of this repository" in err
        assert "root:" not in out + err and "db-password-value" not in out + err


def test_deep_nesting_is_a_clear_error(tmp_path, monkeypatch):
    """libyaml here bounds nesting at 1000 levels (the crash measured at 25,000 `[` did not happen on this
    machine's libyaml); the Python composer, used for a spec with an explicit `!!str`, is bounded too."""
    monkeypatch.chdir(tmp_path)
    for name in ("x", "!!str x"):
        spec = tmp_path / "deep.yaml"
        spec.write_text(f"metadata: {{name: {name}}}\ncluster: " + "[" * 25_000 + "]" * 25_000 + "\n")
        code, _, err = run("validate", str(spec))
        assert code == 3
        assert "nested too deeply" in err or "maximum nesting depth" in err


def test_nesting_is_bounded_before_the_yaml_is_composed(tmp_path, monkeypatch):
    """The bound is checked on the scanner's tokens (which do not recurse), before the composer (which does), in flow
    and block style, with the line and column where it is passed."""
    monkeypatch.chdir(tmp_path)
    flow = "metadata: {name: x}\ncluster: " + "[" * 300 + "]" * 300 + "\n"
    block = "metadata: {name: x}\ncluster:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300))
    for text, where in ((flow, "deep.yaml:2:209"), (block, "deep.yaml:202:")):
        (tmp_path / "deep.yaml").write_text(text)
        code, _, err = run("validate", "deep.yaml")
        assert code == 3, err
        assert where in err and "the YAML nests more than 200 levels deep (flatten the document)" in err, err


@pytest.mark.parametrize("limit", ["0", "-5", "99999999999999999999999"])
def test_history_refuses_a_limit_out_of_range_before_anything_runs(isolated, limit):
    code, _, err = run("history", "dev", "--limit", limit)
    assert code == 2
    assert "Invalid value for '--limit'" in err


def test_an_unreadable_state_is_exit_9_with_its_path_not_a_traceback(isolated, monkeypatch):
    """As root every file is readable: a folder where the state file should be is unreadable as a file for anyone."""
    for name, value in {"MESHINSTALL_PASSPHRASE": "faults", **SECRETS}.items():
        monkeypatch.setenv(name, value)
    stack = isolated / "environments" / ".meshinstall" / "state" / ".pulumi" / "stacks" / "meshinstall" / "dev.json"
    stack.mkdir(parents=True)
    for command in (("status", "dev"), ("history", "dev")):
        code, _, err = run(*command)
        assert code == 9, (command, err)
        assert f"the state {stack} cannot be read" in err


def test_an_unwritable_lock_folder_is_exit_9(isolated, monkeypatch):
    for name, value in {"MESHINSTALL_PASSPHRASE": "faults", **SECRETS}.items():
        monkeypatch.setenv(name, value)
    locks = isolated / "environments" / ".meshinstall" / "state" / ".meshinstall" / "locks"  # the file backend's
    locks.parent.mkdir(parents=True)
    locks.write_text("a file where the locks folder goes")
    code, _, err = run("refresh", "dev")
    assert code == 9, err
    assert "the lock" in err and "cannot be written" in err


def test_state_migrate_prints_a_snippet_that_pastes_into_the_spec():
    snippet = state_snippet("postgres://platform@db.internal:5432/meshinstall", "STATE_DB_PASSWORD")
    assert yaml.safe_load(snippet) == {
        "state": {
            "backend": "postgres://platform@db.internal:5432/meshinstall",
            "password": {"fromEnv": "STATE_DB_PASSWORD"},
        }
    }
    assert yaml.safe_load(state_snippet("file:///mnt/state", None)) == {"state": {"backend": "file:///mnt/state"}}


def test_a_hint_names_the_environment_as_the_command_did(isolated):
    """Issue 28, item 1: after a Ctrl-C the hint said `meshinstall up bank-dev` (metadata.name), which exits 2 when the
    spec's file is named otherwise."""
    from types import SimpleNamespace

    from meshinstall import operations
    from meshinstall.operations.steps import cluster_gone

    spec = operations.load("environments/dev.yaml")
    assert (spec.named, operations.load("dev").named) == ("environments/dev.yaml", "dev")
    env = SimpleNamespace(asked_as=spec.named, target=SimpleNamespace(simulated=True))
    gone = cluster_gone(env, "the simulated cluster's etcd stopped for 30 s", "up failed after 2 change(s):")
    assert "`meshinstall up environments/dev.yaml` restarts the simulated cluster on its data and finishes" in str(gone)
    assert gone.exit_code == 6


@pytest.mark.needs_pulumi
@pytest.mark.parametrize("kubeconfig", ["not: [a kubeconfig", "apiVersion: v1\nkind: Config\n", "clusters: 7\n"])
def test_preview_on_a_cluster_it_cannot_read_fails_like_doctor(isolated, monkeypatch, kubeconfig):
    """Issue 28, item 4: `preview` on an `existing` cluster with a garbage kubeconfig exited 0 showing 119 creates,
    with no word that the cluster could not be read."""
    spec = yaml.safe_load((isolated / "environments" / "dev.yaml").read_text())
    spec["cluster"] = {"provider": "existing"}
    (isolated / "environments" / "dev.yaml").write_text(yaml.safe_dump(spec))
    (isolated / "kubeconfig").write_text(kubeconfig)
    monkeypatch.setenv("KUBECONFIG", str(isolated / "kubeconfig"))
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "hostile")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    code, out, err = run("preview", "dev")
    assert code == 4, out + err
    assert "MI005" in out + err and "the cluster is reachable" in out + err, out + err
    assert "change(s)" not in out + err, out + err
