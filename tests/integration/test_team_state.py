"""Team state: two checkouts (alice's and bob's) share one state backend, a real PostgreSQL (scripts/postgres.sh) or
a shared folder, and drive one environment on a cluster that neither of them started (`provider: existing`).

Each promise is tested on both backends: one writer at a time, the other refused within seconds and told who holds
the lock; the second checkout finds the first one's work done; a lock a killed run left is named by `doctor` and
cleared by `unlock`; `history` lists who did what. `state migrate` moves an environment to PostgreSQL."""

from __future__ import annotations

import base64
import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SECRETS

from meshinstall.schemas.validate import load_spec
from meshinstall.simulator import LocalClusterConfig, LocalControlPlane
from meshinstall.stacks.cluster import recovery
from meshinstall.stacks.engine import environment, toolchain

pytestmark = pytest.mark.integration

ME = f"{getpass.getuser()}@{socket.gethostname()}"


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL with password login: its URL (no password) and the file holding the password."""
    folder = Path(tempfile.mkdtemp(prefix="meshinstall-postgres-", dir="/tmp"))  # reachable by the `postgres` user
    os.chmod(folder, 0o755)
    env = {**os.environ, "MESHINSTALL_POSTGRES_DIR": str(folder / "server")}
    url = subprocess.run(
        [str(ROOT / "scripts" / "postgres.sh"), "start"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield {
            "url": url,
            "password_file": str(folder / "server" / "password"),
            "data": str(folder / "server" / "data"),
        }
    finally:
        subprocess.run([str(ROOT / "scripts" / "postgres.sh"), "stop"], env=env, check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Path]:
    """A simulated cluster started outside any environment, as a platform team's existing cluster: its kubeconfig."""
    plane = LocalControlPlane(
        LocalClusterConfig(state_dir=str(tmp_path / "their-cluster"), nodes=3, search_path=toolchain.search_path())
    )
    try:
        plane.start()
        yield plane.config.kubeconfig_path
    finally:
        plane.remove()


class Running:
    """A command running in the background, its output collected, and when it ended."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.started, self.ended, self.lines = process, time.monotonic(), 0.0, []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
        self.process.wait()
        self.ended = time.monotonic()

    def finish(self, timeout: int = 900) -> tuple[int, str, float]:
        """Exit code, output, and seconds it ran."""
        self.reader.join(timeout)
        return self.process.wait(), "".join(self.lines), self.ended - self.started


class Checkout:
    """One person's clone of the platform repository: environments/dev.yaml on the shared backend and cluster."""

    def __init__(self, folder: Path, state: dict, kubeconfig: Path) -> None:
        self.folder = folder
        shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
        self.spec = folder / "environments" / "dev.yaml"
        self.edit(lambda d: d.update(cluster={"provider": "existing"}, state=state))
        self.env = {**os.environ, **SECRETS, "MESHINSTALL_PASSPHRASE": "team-test", "KUBECONFIG": str(kubeconfig)}

    def edit(self, change: Callable[[dict], None]) -> None:
        data = yaml.safe_load(self.spec.read_text())
        change(data)
        self.spec.write_text(yaml.safe_dump(data, sort_keys=False))

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["meshinstall", *args], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=900
        )

    def start(self, *args: str) -> Running:
        return Running(
            subprocess.Popen(
                ["meshinstall", *args],
                cwd=self.folder,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )

    def backend(self):
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return environment.state_backend(load_spec(self.spec))
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def wait_until_it_holds_the_lock(self, running: Running) -> None:
        backend = self.backend()
        deadline = time.monotonic() + 120
        while backend.holder("dev") is None:
            assert running.process.poll() is None and time.monotonic() < deadline, "".join(running.lines)
            time.sleep(0.2)

    def history(self) -> list[dict]:
        shown = self.run("history", "dev", "--json")
        assert shown.returncode == 0, shown.stderr
        return json.loads(shown.stdout)["updates"]


@pytest.fixture(params=["postgres", "file"])
def team(request, tmp_path: Path, cluster: Path) -> Iterator[tuple[Checkout, Checkout]]:
    """alice's and bob's checkouts sharing a backend: a table of their own in PostgreSQL, or a shared folder."""
    if request.param == "postgres":
        server = request.getfixturevalue("postgres")
        state = {
            "backend": f"{server['url']}&table=state_{request.node.name.split('[')[0][-40:]}",
            "password": {"fromFile": server["password_file"]},
        }
    else:
        state = {"backend": f"file://{tmp_path / 'shared-state'}"}
    alice, bob = Checkout(tmp_path / "alice", state, cluster), Checkout(tmp_path / "bob", state, cluster)
    try:
        yield alice, bob
    finally:
        alice.run("unlock", "dev", "--yes")
        alice.run("destroy", "dev", "--yes")


def both(team: tuple[Checkout, Checkout], change: Callable[[dict], None]) -> None:
    """A change merged to the repository and pulled by both."""
    for checkout in team:
        checkout.edit(change)


def more_gateway_replicas(n: int) -> Callable[[dict], None]:
    return lambda d: d["mesh"].update(ingressGateway={"replicas": n})


def test_one_writer_at_a_time_and_the_other_is_told_who_holds_the_lock(team):
    alice, bob = team
    # both start `up` at the same moment: exactly one applies, the other is refused at once and told by whom
    runs = {checkout: checkout.start("up", "dev", "--yes") for checkout in team}
    results = {checkout: running.finish() for checkout, running in runs.items()}
    assert sorted(code for code, _, _ in results.values()) == [0, 8], {
        c.folder.name: r[1][-2000:] for c, r in results.items()
    }
    winner = next(c for c, r in results.items() if r[0] == 0)
    loser = bob if winner is alice else alice
    code, said, seconds = results[loser]
    assert (
        "dev is busy: another meshinstall command holds its lock" in said
        and f"(`meshinstall up dev --yes` on {ME} (pid {runs[winner].process.pid}, since " in said
    ), said
    assert "Traceback" not in said
    assert seconds < 30, f"refused after {seconds:.0f}s"
    # the other one then finds the work done
    again = loser.run("up", "dev", "--yes")
    assert again.returncode == 0 and "up: 0 change(s)" in again.stdout, again.stdout + again.stderr

    # `up` against `destroy` and `refresh`: while alice's `up` runs, bob's are refused, naming her command
    both(team, more_gateway_replicas(2))
    running = alice.start("up", "dev", "--yes")
    alice.wait_until_it_holds_the_lock(running)
    for command in (("destroy", "dev", "--yes"), ("refresh", "dev")):
        refused = bob.run(*command)
        assert refused.returncode == 8, refused.stdout + refused.stderr
        assert (
            "holds its lock" in refused.stderr
            and f"(`meshinstall up dev --yes` on {ME} (pid {running.process.pid}" in refused.stderr
        ), refused.stderr
    assert running.finish()[0] == 0
    seen = bob.run("up", "dev", "--yes")
    assert seen.returncode == 0 and "up: 0 change(s)" in seen.stdout, seen.stdout + seen.stderr
    # and `up` against a running `destroy`
    running = bob.start("destroy", "dev", "--yes")
    bob.wait_until_it_holds_the_lock(running)
    refused = alice.run("up", "dev", "--yes")
    assert (
        refused.returncode == 8
        and f"(`meshinstall destroy dev --yes` on {ME} (pid {running.process.pid}" in refused.stderr
    ), refused.stderr
    assert running.finish()[0] == 0

    # the history, newest first, from either checkout: who did what, with what result and changes
    updates = alice.history()
    assert (
        updates[0]["kind"] == "destroy"
        and updates[0]["command"] == "meshinstall destroy dev --yes"
        and updates[0]["who"] == ME
    )
    assert updates[0]["result"] == "succeeded" and updates[0]["changes"].get("delete", 0) > 50
    first = updates[-1]
    assert (first["kind"], first["result"], first["command"]) == (
        "update",
        "succeeded",
        "meshinstall up dev --yes",
    ) and first["changes"]["create"] > 50
    assert any(u["kind"] == "update" and u["changes"].get("update") for u in updates), updates
    table = bob.run("history", "dev")
    assert table.returncode == 0 and "destroy" in table.stdout and ME in table.stdout, table.stdout


def test_a_lock_a_killed_run_left_is_named_by_doctor_and_cleared_by_unlock(team):
    alice, bob = team
    assert alice.run("up", "dev", "--yes").returncode == 0
    both(team, more_gateway_replicas(2))
    # alice's machine dies in the middle of an `up`: meshinstall and its engine are killed at once
    running = alice.start("up", "dev", "--yes")
    backend = alice.backend()
    deadline = time.monotonic() + 120
    while not backend.engine_locks(environment.PROJECT, "dev"):
        assert running.process.poll() is None and time.monotonic() < deadline, "".join(running.lines)
        time.sleep(0.2)
    engine_processes = [
        pid for pid, _, _ in recovery.engine_processes(alice.folder / "environments" / ".meshinstall" / "pulumi-home")
    ]
    for pid in [running.process.pid, *engine_processes]:
        os.kill(pid, signal.SIGKILL)
    running.finish()
    assert backend.engine_locks(environment.PROJECT, "dev"), "a killed engine leaves its lock"

    doctor = bob.run("doctor", "dev")
    assert doctor.returncode == 4, doctor.stdout
    mi003 = doctor.stdout[doctor.stdout.index("MI003") :].split("\n× ")[0].split("\n√ ")[0]
    assert (
        "stack dev is locked: stale: the engine's lock by" in mi003
        and f"{ME} (pid {engine_processes[0]}" in mi003
        and "dead)" in mi003
    ), mi003
    asked = bob.run("unlock", "dev")  # no terminal to say yes on
    assert (
        asked.returncode == 8
        and "nothing was cleared" in asked.stderr
        and "stale: the engine's lock by" in asked.stderr
    ), asked.stderr
    cleared = bob.run("unlock", "dev", "--yes")
    assert cleared.returncode == 0 and "cleared 1 lock(s) of dev" in cleared.stdout, cleared.stdout + cleared.stderr
    assert not backend.engine_locks(environment.PROJECT, "dev")
    assert "√ MI003" in bob.run("doctor", "dev").stdout
    # bob finishes what alice started
    converged = bob.run("up", "dev", "--yes")
    assert converged.returncode == 0, converged.stdout + converged.stderr
    again = alice.run("up", "dev", "--yes")
    assert again.returncode == 0 and "up: 0 change(s)" in again.stdout, again.stdout + again.stderr


def pg_ctl(postgres: dict[str, str], *args: str) -> None:
    """The server's own control, as its owner (the `postgres` user under root): `restart`, `stop`, `start`; the port
    and options stay those it was started with."""
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    server = Path(postgres["data"]).parent
    log = ["-l", str(server / "postgres.log")]
    # as scripts/postgres.sh starts it (a restart keeps the options by itself)
    port = (server / "port").read_text().strip()
    options = ["-o", f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={server}"]
    # its output not captured: the server it starts would hold the pipe open
    subprocess.run(
        [
            *owner,
            str(binary),
            "-D",
            postgres["data"],
            *log,
            "-w",
            "-m",
            "fast",
            *args,
            *(options if "start" in args else []),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def applying(running: Running, changes: int = 10) -> None:
    """Wait until the command's engine has made `changes` changes."""
    deadline = time.monotonic() + 300
    while sum(bool(re.match(r"\S+ (created|updated|deleted|replaced) ", line)) for line in running.lines) < changes:
        assert running.process.poll() is None and time.monotonic() < deadline, "".join(running.lines)
        time.sleep(0.2)


def a_checkout_on(postgres: dict[str, str], folder: Path, table: str, kubeconfig: Path) -> Checkout:
    return Checkout(
        folder,
        {"backend": f"{postgres['url']}&table={table}", "password": {"fromFile": postgres["password_file"]}},
        kubeconfig,
    )


def test_a_restart_of_postgresql_under_a_running_up_lets_no_second_writer_in(postgres, tmp_path, cluster):
    """The server's restart drops the running `up`'s advisory lock. A second `up` from the same checkout must not take
    the environment, nor stop the first one's engine as a dead run's: it is refused, naming the first, which takes its
    lock again and finishes."""
    alice = a_checkout_on(postgres, tmp_path / "alice", "state_restarted", cluster)
    try:
        first = alice.start("up", "dev", "--yes")
        applying(first)
        pg_ctl(postgres, "restart")
        second = alice.run("up", "dev", "--yes")
        said = second.stdout + second.stderr
        assert second.returncode == 8, said
        assert (
            f"`meshinstall up dev --yes` on {ME} (pid {first.process.pid}" in said
            and "until the server dropped it (a restart), and still runs" in said
        ), said
        assert "stopping" not in said and "Traceback" not in said, said
        code, output, _ = first.finish()
        assert code == 0 and "up: " in output, output[-3000:]
        again = alice.run("up", "dev", "--yes")
        assert again.returncode == 0 and "up: 0 change(s)" in again.stdout, again.stdout + again.stderr
    finally:
        alice.run("destroy", "dev", "--yes")


def test_postgresql_gone_longer_than_a_restart_stops_the_up_with_exit_9_saying_what_it_changed(
    postgres, tmp_path, cluster
):
    """Stopped for longer than the holder waits to take its lock again (RETAKE_WITHIN), the server takes the run with
    it: exit 9, saying how many changes reached the cluster; the next `up` finishes and the one after has nothing to
    do."""
    from meshinstall.stacks.state.backend import RETAKE_WITHIN

    alice = a_checkout_on(postgres, tmp_path / "alice", "state_stopped", cluster)
    try:
        running = alice.start("up", "dev", "--yes")
        applying(running)
        pg_ctl(postgres, "stop")
        try:
            code, output, _ = running.finish(timeout=int(RETAKE_WITHIN) + 240)
        finally:
            pg_ctl(postgres, "start")
        assert code == 9, output[-3000:]
        message = output[output.rindex("error: ") :]
        changed = re.search(r"after (\d+) change\(s\) to the cluster", message)
        assert changed and int(changed.group(1)) >= 10, message
        assert "dev's lock in PostgreSQL at" in message and "`meshinstall up dev` finishes" in message, message
        assert "Traceback" not in output, output
        converged = alice.run("up", "dev", "--yes")
        assert converged.returncode == 0, converged.stdout + converged.stderr
        again = alice.run("up", "dev", "--yes")
        assert again.returncode == 0 and "up: 0 change(s)" in again.stdout, again.stdout + again.stderr
    finally:
        alice.run("destroy", "dev", "--yes")


def test_a_holder_on_another_host_is_alive_while_its_heartbeat_is_fresh(postgres):
    """A row left by a holder whose lock a restart dropped: on another host (its process cannot be seen), its heartbeat
    decides. Fresh, the lock is refused, saying so; a minute silent, the holder is taken as gone."""
    import psycopg

    from meshinstall.errors import EnvironmentLocked
    from meshinstall.stacks.state.backend import FRESH, LOCK_TABLE, PostgresBackend

    password = Path(postgres["password_file"]).read_text().strip()
    backend = PostgresBackend(postgres["url"], password)
    with backend.lock("elsewhere"):
        pass  # the table exists
    holder = {
        "pid": 4242,
        "host": "ci-runner-7",
        "user": "ci",
        "since": "2026-12-07 10:00:00 UTC",
        "command": "meshinstall up dev",
    }
    with psycopg.connect(
        postgres["url"].replace("postgres://", "postgresql://"), password=password, autocommit=True
    ) as db:
        for silent, refused in ((5, True), (FRESH + 5, False)):
            db.execute(
                f"INSERT INTO {LOCK_TABLE} VALUES (%s, %s, 1, now() - make_interval(secs => %s)) ON CONFLICT (environment) "
                "DO UPDATE SET holder = EXCLUDED.holder, backend_pid = 1, beat = EXCLUDED.beat",
                ("elsewhere", json.dumps(holder), silent),
            )
            if refused:
                with pytest.raises(EnvironmentLocked) as err, backend.lock("elsewhere"):
                    pass
                assert "`meshinstall up dev` on ci@ci-runner-7 (pid 4242" in str(err.value), err.value
                assert "its last heartbeat was 5 s ago" in str(err.value), err.value
            else:
                with backend.lock("elsewhere"):
                    row = db.execute(f"SELECT holder FROM {LOCK_TABLE} WHERE environment = 'elsewhere'").fetchone()
                    assert row[0]["pid"] == os.getpid(), row


def test_first_commands_at_the_same_moment_create_the_lock_table_once(postgres):
    """A bare CREATE TABLE IF NOT EXISTS fails on a concurrent one ("duplicate key ... pg_type"): the first `up`s of two
    people at the same moment must both get an answer about the lock, not that error."""
    import psycopg

    from meshinstall.stacks.state.backend import LOCK_TABLE, PostgresBackend

    password = Path(postgres["password_file"]).read_text().strip()
    for _ in range(5):
        with psycopg.connect(
            postgres["url"].replace("postgres://", "postgresql://"), password=password, autocommit=True
        ) as db:
            db.execute(f"DROP TABLE IF EXISTS {LOCK_TABLE}")
        errors: list[str] = []

        def first_command(environment: str) -> None:
            try:
                with PostgresBackend(postgres["url"], password).lock(environment):
                    pass
            except Exception as err:  # noqa: BLE001 (collected for the assertion)
                errors.append(repr(err))  # noqa: B023 (each thread appends to this round's list, joined below)

        threads = [threading.Thread(target=first_command, args=(f"env-{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors


def test_state_migrate_moves_an_environment_to_postgresql_with_its_secrets_still_encrypted(postgres, tmp_path, cluster):
    table = "state_migrated"
    target = f"{postgres['url']}&table={table}"
    alice = Checkout(tmp_path / "alice", {"backend": "file://.meshinstall/state"}, cluster)
    try:
        assert alice.run("up", "dev", "--yes").returncode == 0
        with_password = alice.run(
            "state", "migrate", "dev", "--to", target.replace("meshinstall@", "meshinstall:hunter2@")
        )
        assert with_password.returncode == 2 and "--to holds a password" in with_password.stderr, with_password.stderr
        alice.env["STATE_DB_PASSWORD"] = Path(postgres["password_file"]).read_text().strip()
        moved = alice.run("state", "migrate", "dev", "--to", target, "--password-env", "STATE_DB_PASSWORD")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert (
            "a preview there shows no change" in moved.stdout
            and "password: {fromEnv: STATE_DB_PASSWORD}" in moved.stdout
        ), moved.stdout
        # the copy holds the secrets as the engine encrypted them, never in plaintext
        psql = subprocess.run(
            [
                "psql",
                target.split("&")[0],
                "-Atc",
                f"SELECT data->>'data' FROM {table} WHERE key LIKE '%stacks/meshinstall/dev.json'",
            ],
            env={**os.environ, "PGPASSWORD": alice.env["STATE_DB_PASSWORD"]},
            capture_output=True,
            text=True,
            check=True,
        )
        state = base64.b64decode(psql.stdout.strip()).decode()
        assert '"ciphertext"' in state and SECRETS["GRAFANA_ADMIN_PASSWORD"] not in state
        # the spec now points at PostgreSQL: nothing to change there
        alice.edit(lambda d: d.update(state={"backend": target, "password": {"fromEnv": "STATE_DB_PASSWORD"}}))
        preview = alice.run("preview", "dev", "--expect-no-changes")
        assert preview.returncode == 0, preview.stdout + preview.stderr
        alice.env["STATE_DB_PASSWORD"] = "wrong"
        wrong = alice.run("up", "dev", "--yes")
        assert (
            wrong.returncode == 9
            and "password authentication failed" in wrong.stderr
            and "Traceback" not in wrong.stderr
        ), wrong.stderr
    finally:
        alice.env["STATE_DB_PASSWORD"] = Path(postgres["password_file"]).read_text().strip()
        alice.run("destroy", "dev", "--yes")
