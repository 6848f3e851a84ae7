"""A shared state backend on a real PostgreSQL (issue 11, first step): `scripts/postgres.sh` starts a throwaway
server; `dev` keeps its state there; a second checkout that shares the backend is refused while the first runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from conftest import ROOT, SECRETS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backend():
    folder = Path(tempfile.mkdtemp(prefix="meshinstall-postgres-", dir="/tmp"))  # reachable by the `postgres` user
    os.chmod(folder, 0o755)
    env = {**os.environ, "MESHINSTALL_POSTGRES_DIR": str(folder / "server")}
    url = subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "start"], env=env, capture_output=True, text=True, check=True).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], env=env, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def checkout(folder, url: str):
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    spec = folder / "environments" / "dev.yaml"
    spec.write_text(spec.read_text().replace("backend: file://.meshinstall/state", f'backend: "{url}"'))
    return folder


def test_dev_keeps_its_state_in_postgresql_and_a_second_writer_is_refused_fast(backend, tmp_path):
    env = {**os.environ, **SECRETS, "MESHINSTALL_PASSPHRASE": "postgres-test"}
    first, second = checkout(tmp_path / "alice", backend), checkout(tmp_path / "bob", backend)
    run = lambda folder, *args: subprocess.run(["meshinstall", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=900)  # noqa: E731
    try:
        up = run(first, "up", "dev", "--yes")
        assert up.returncode == 0, up.stdout + up.stderr
        assert not (first / "environments" / ".meshinstall" / "state").exists(), "no state on disk: it is in PostgreSQL"
        again = run(first, "up", "dev", "--yes")
        assert again.returncode == 0 and "up: 0 change(s)" in again.stdout, again.stdout + again.stderr
        spec = first / "environments" / "dev.yaml"
        spec.write_text(spec.read_text().replace("ingressGateway: {replicas: 1}", "ingressGateway: {replicas: 2}"))
        running = subprocess.Popen(["meshinstall", "up", "dev", "--yes"], cwd=first, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in running.stdout:
            if line.startswith("running the engine"):
                break
        time.sleep(2)  # the engine takes its lock in PostgreSQL
        start = time.monotonic()
        refused = run(second, "refresh", "dev")
        waited = time.monotonic() - start
        rest = running.stdout.read()
        assert running.wait(timeout=600) == 0, rest
        assert refused.returncode == 8, refused.stdout + refused.stderr
        assert "the engine's lock on the stack is held" in refused.stderr
        assert waited < 30, f"refused after {waited:.0f}s"
    finally:
        run(first, "destroy", "dev", "--yes")
