"""The pieces of fault survival that need no engine: the environment lock, the state file, failure messages,
the simulated cluster's own processes and the recovery of Helm records."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import ROOT
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meshinstall.cli.main import EXIT_CODES
from meshinstall.errors import EngineFailed, EnvironmentLocked, Interrupted, StateBackendUnreachable, UsageError
from meshinstall.simulator import LocalClusterConfig, LocalControlPlane
from meshinstall.simulator.local_control_plane import process_identity
from meshinstall.stacks.cluster import recovery
from meshinstall.stacks.engine import runs
from meshinstall.stacks.engine.events import Interrupts, Journal, failure
from meshinstall.stacks.state import state_file
from meshinstall.stacks.state.backend import FileBackend
from meshinstall.stacks.state.lock import environment_lock, holder_of

HOLD = """
import sys, time
from pathlib import Path
from meshinstall.stacks.state.lock import environment_lock
with environment_lock(Path(sys.argv[1]), "dev"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_command_is_refused_and_told_who_holds_the_lock_until_the_holder_dies(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path), "up", "dev"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(EnvironmentLocked) as refused:
        with environment_lock(tmp_path, "dev"):
            pass
    assert f"(pid {holder.pid}, since " in str(refused.value) and "running)" in str(refused.value)
    assert holder_of(tmp_path, "dev").pid == holder.pid
    holder.kill()
    holder.wait()
    assert holder_of(tmp_path, "dev") is None, "the kernel drops the lock of a killed holder"
    with environment_lock(tmp_path, "dev"):
        pass


def test_an_engine_lock_of_a_dead_process_on_this_host_is_cleared_and_one_of_a_live_one_is_not(tmp_path):
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "meshinstall" / "dev"
    locks.mkdir(parents=True)
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip()
    (locks / "a.json").write_text(
        json.dumps(
            {
                "pid": int(dead),
                "username": "ci",
                "hostname": os.uname().nodename,
                "timestamp": "2026-11-26T04:00:00.123456789Z",
            }
        )
    )
    said = recovery.clear_stale_engine_locks(FileBackend(tmp_path), "meshinstall", "dev", confirm=lambda _: False)
    assert said == [
        f"removed the engine's lock left by ci@{os.uname().nodename} (pid {dead}, since 2026-11-26 04:00:00 UTC, dead)"
    ]
    assert not FileBackend(tmp_path).engine_locks("meshinstall", "dev")
    (locks / "b.json").write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "username": "ci",
                "hostname": os.uname().nodename,
                "timestamp": "2026-11-26T04:00:00.123456789Z",
            }
        )
    )
    with pytest.raises(EnvironmentLocked, match="running"):
        recovery.clear_stale_engine_locks(FileBackend(tmp_path), "meshinstall", "dev", confirm=lambda _: True)
    assert (locks / "b.json").exists()


def test_an_engine_lock_from_another_host_is_removed_only_when_the_user_says_so(tmp_path):
    locks = tmp_path / ".pulumi" / "locks" / "organization" / "meshinstall" / "dev"
    locks.mkdir(parents=True)
    (locks / "c.json").write_text(
        json.dumps(
            {"pid": 7, "username": "bob", "hostname": "elsewhere", "timestamp": "2026-11-26T04:00:00.123456789Z"}
        )
    )
    questions = []
    with pytest.raises(EnvironmentLocked, match="bob@elsewhere"):
        recovery.clear_stale_engine_locks(
            FileBackend(tmp_path), "meshinstall", "dev", confirm=lambda q: questions.append(q) or False
        )
    assert "on another host, not checked" in questions[0]
    assert recovery.clear_stale_engine_locks(FileBackend(tmp_path), "meshinstall", "dev", confirm=lambda _: True)
    assert not FileBackend(tmp_path).engine_locks("meshinstall", "dev")


def _salt_state(passphrase: str) -> str:
    salt, nonce = os.urandom(8), os.urandom(12)
    key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, state_file.PBKDF2_ROUNDS, 32)
    sealed = AESGCM(key).encrypt(nonce, b"pulumi", None)
    return f"v1:{base64.b64encode(salt).decode()}:v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def test_the_passphrase_is_checked_against_the_state_without_the_engine():
    deployment = {"secrets_providers": {"type": "passphrase", "state": {"salt": _salt_state("right")}}}
    assert state_file.passphrase_opens(deployment, "right") is True
    assert state_file.passphrase_opens(deployment, "wrong") is False
    assert state_file.passphrase_opens({}, "any") is None


def test_the_passphrase_key_started_ahead_is_derived_once_when_a_check_asks_for_it_meanwhile(monkeypatch):
    """A command starts the key's derivation (0.24 s of a core) as soon as its spec is loaded; doctor's MI011 asks for
    the same key while it runs, and waits for it instead of deriving it a second time beside it."""
    import threading
    import time

    salt_state, derivations = _salt_state("ahead"), []

    def slow_pbkdf2(*args):
        derivations.append(args)
        time.sleep(0.2)
        return b"k" * 32

    monkeypatch.setattr(state_file, "_pbkdf2_sha256", slow_pbkdf2)
    ahead = threading.Thread(target=state_file.derive_key, args=("ahead", salt_state))
    ahead.start()
    time.sleep(0.05)
    deployment = {"secrets_providers": {"type": "passphrase", "state": {"salt": salt_state}}}
    assert state_file.passphrase_opens(deployment, "ahead") is False  # the fake key opens nothing; it was asked for
    ahead.join()
    assert len(derivations) == 1


def test_the_passphrase_key_is_pulumis_derived_in_a_python_of_its_own(monkeypatch):
    """The key is derived in a separate Python (`cryptography`'s OpenSSL, on the other core), and it is the key of
    Pulumi's passphrase provider (PBKDF2-SHA256, 1,000,000 rounds), whatever the passphrase holds. The passphrase
    reaches that Python on its stdin, never in its arguments or environment."""
    runs, real_run = [], subprocess.run

    def run(command, **kwargs):
        done = real_run(command, **kwargs)
        runs.append((command, kwargs, done.returncode))
        return done

    monkeypatch.setattr(state_file.subprocess, "run", run)
    salt, passphrase = os.urandom(8), "s3cr3t\nwith a newline"
    key = state_file._pbkdf2_sha256(passphrase.encode(), salt)
    assert key == hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, 1_000_000, 32)
    [(command, kwargs, returncode)] = runs
    assert returncode == 0  # not hashlib's fallback
    assert "s3cr3t" not in " ".join(command) and kwargs["env"] == {}


def test_the_salt_for_the_head_start_is_read_from_the_states_first_bytes():
    """The engine writes the passphrase provider's state before the resources; the head start finds it there without
    parsing the rest (a state of 37 MB at 1000 apps), and in the parsed state when it is elsewhere."""
    salt_state = _salt_state("first")
    provider = {"type": "passphrase", "state": {"salt": salt_state}}
    head = json.dumps(
        {"version": 3, "checkpoint": {"latest": {"manifest": {}, "secrets_providers": provider}}}, separators=(",", ":")
    )
    # no JSON past it
    assert state_file.salt_in("dev.json", head[: head.index(salt_state) + len(salt_state) + 1].encode()) == salt_state
    elsewhere = {
        "version": 3,
        "checkpoint": {"latest": {"resources": [{"outputs": {"salt": "v1:x"}}], "secrets_providers": provider}},
    }
    assert state_file.salt_in("dev.json", json.dumps(elsewhere).encode()) == salt_state


def test_a_state_file_cut_short_is_unreadable_and_names_its_backup(tmp_path):
    file = tmp_path / "dev.json"
    file.write_text(json.dumps({"version": 3, "checkpoint": {"latest": {"resources": []}}})[:30])
    with pytest.raises(state_file.StateUnreadable, match="dev.json.bak"):
        state_file.latest(str(file), file.read_bytes())
    assert FileBackend(tmp_path).saved_state("meshinstall", "absent") == (
        str(tmp_path / ".pulumi" / "stacks" / "meshinstall" / "absent.json"),
        None,
    )
    assert state_file.latest("absent", None) is None


NO_EVENT = {"res_outputs_event": None, "res_op_failed_event": None, "diagnostic_event": None}


def _error(text: str) -> Exception:
    from pulumi.automation._cmd import CommandResult
    from pulumi.automation.errors import create_command_error

    return create_command_error(CommandResult(stdout="", stderr=text, code=1))


@pytest.mark.parametrize(
    ("stderr", "kind", "words"),
    [
        ("error: constructing secrets manager: incorrect passphrase", UsageError, "the passphrase does not decrypt"),
        ("error: could not deserialize deployment: unexpected end of JSON input", EngineFailed, ".json.bak"),
        (
            "error: write /state/.pulumi/stacks/meshinstall/dev.json: no space left on device",
            StateBackendUnreachable,
            "the disk is full (no space left on device) after 0 change(s) to the cluster",
        ),
    ],
)
def test_known_engine_failures_become_one_line_causes_with_a_hint(stderr, kind, words):
    err = failure("up", "dev", _error(stderr), Journal(), Interrupts())
    assert isinstance(err, kind) and words in str(err)
    assert "code: 1" not in str(err)


def test_a_failed_run_names_its_failed_resources_and_their_errors_not_the_tail_of_its_output():
    journal = Journal()
    urn = "urn:pulumi:dev::meshinstall::meshinstall:components:ControlPlane$kubernetes:helm.sh/v3:Release::istio-ingressgateway"
    journal(
        SimpleNamespace(
            res_outputs_event=None,
            res_op_failed_event=None,
            summary_event=None,
            diagnostic_event=SimpleNamespace(
                severity="error", urn=urn, message="cannot re-use a name that is still in use\n"
            ),
        )
    )
    journal(
        SimpleNamespace(
            res_outputs_event=None,
            res_op_failed_event=None,
            summary_event=None,
            diagnostic_event=SimpleNamespace(severity="warning", urn=urn, message="a plugin warning"),
        )
    )
    err = failure("up", "dev", _error("warning: lots of noise\nOutputs:\n  x: 1"), journal, Interrupts())
    assert (
        str(err)
        == "up failed after 0 change(s):\n  kubernetes:helm.sh/v3:Release istio-ingressgateway: cannot re-use a name that is still in use"
    )


def test_an_update_that_completed_before_its_backup_failed_is_a_success_with_a_warning(own_interrupt_handlers):
    """The engine saves the state, then its history entry and backup; a full disk at that point failed the command
    ("up failed" and the engine's raw output) though `history` and `status` said the update succeeded."""
    stack = SimpleNamespace(
        name="dev", workspace=SimpleNamespace(pulumi_command=SimpleNamespace(interrupt=lambda: False))
    )
    backup = "error: saving backup: write /s/.pulumi/backups/meshinstall/dev/dev.1.json: no space left on device"

    def completed(journal: Journal) -> None:
        journal(
            SimpleNamespace(
                **NO_EVENT, summary_event=SimpleNamespace(resource_changes={"update": 2}, duration_seconds=3)
            )
        )
        raise _error(backup)

    journal = runs._operation(stack, "up", completed, None)
    assert journal.warnings == [
        "the update is complete and its state saved, but its backup copy of the state could not be written "
        "(saving backup: write /s/.pulumi/backups/meshinstall/dev/dev.1.json: no space left on device)"
    ]

    def failed_before_the_end(journal: Journal) -> None:  # no summary: the update did not complete
        raise _error(backup)

    with pytest.raises(StateBackendUnreachable):
        runs._operation(stack, "up", failed_before_the_end, None)


def test_an_engine_whose_meshinstall_still_runs_is_never_taken_for_a_dead_runs(tmp_path):
    """Under a lock that a restart of PostgreSQL dropped, a second command found the first one's engine by its
    PULUMI_HOME and stopped it as a dead run's. The engine names the meshinstall process that runs it."""
    home = tmp_path / "pulumi-home"
    starter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    # the engine, not a child of this process (a second command's): started through a shell that leaves it behind
    owner = {"PULUMI_HOME": str(home), recovery.OWNER: process_identity(starter.pid)}
    engine = int(
        subprocess.run(
            ["sh", "-c", f"{sys.executable} -c 'import time; time.sleep(60)' >/dev/null 2>&1 & echo $!"],
            env={**os.environ, **owner},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    try:
        try:
            with pytest.raises(EnvironmentLocked, match=f"the engine of meshinstall process {starter.pid} still runs"):
                recovery.stray_engine_processes(home)
        finally:
            starter.kill()
            starter.wait()
        # its meshinstall gone, the engine is a dead run's
        assert [pid for pid, _ in recovery.stray_engine_processes(home)] == [engine]
    finally:
        os.kill(engine, signal.SIGKILL)


def test_an_interrupt_says_how_many_changes_were_made_and_a_second_what_is_left():
    journal = Journal(changed=4)
    once = failure("up", "dev", _error("update canceled"), journal, Interrupts(1))
    assert isinstance(once, Interrupted) and "interrupted after 4 change(s)" in str(once)
    twice = failure("up", "dev", _error("update canceled"), journal, Interrupts(2))
    assert "stopped at once after 4 change(s)" in str(twice) and "meshinstall repair dev" in str(twice)


@pytest.fixture
def own_interrupt_handlers():
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def test_an_interrupt_as_the_engine_finishes_says_the_update_is_complete_and_a_later_one_raises_nothing(
    own_interrupt_handlers,
):
    """The engine had ended when the Ctrl-C came: the changes stand, meshinstall stops there, and a second Ctrl-C on
    its way out is not a KeyboardInterrupt (CI saw one printed as a traceback from a garbage collector's callback)."""
    ended = SimpleNamespace(interrupt=lambda: False)  # the engine process has exited: there is nothing to cancel
    stack = SimpleNamespace(name="dev", workspace=SimpleNamespace(pulumi_command=ended))

    def run(journal: Journal) -> None:
        journal.changed = 34
        os.kill(os.getpid(), signal.SIGINT)  # arrives after the engine's last event

    with pytest.raises(Interrupted) as err:
        runs._operation(stack, "up", run, None)
    assert "the up is complete, its 34 change(s) applied and recorded" in str(err.value)
    assert "`meshinstall verify dev` runs them" in str(err.value)
    os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, on the way out
    time.sleep(0.05)


def test_an_operation_without_an_interrupt_leaves_ctrl_c_as_it_was(own_interrupt_handlers):
    stack = SimpleNamespace(
        name="dev", workspace=SimpleNamespace(pulumi_command=SimpleNamespace(interrupt=lambda: False))
    )
    before = signal.getsignal(signal.SIGINT)
    runs._operation(stack, "up", lambda journal: None, None)
    assert signal.getsignal(signal.SIGINT) is before


def _fake(tmp_path: Path, name: str, root: Path) -> subprocess.Popen:
    """A process that looks like one of a cluster's: its binary is called `name`, an argument points under `root`."""
    binary = tmp_path / "bin" / name
    binary.parent.mkdir(exist_ok=True)
    if not binary.exists():
        binary.symlink_to(sys.executable)
    return subprocess.Popen([str(binary), "-c", "import time; time.sleep(60)", f"--kubeconfig={root}/kubeconfig"])


def test_the_simulated_cluster_stops_its_own_stray_processes_and_never_another_clusters(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    stray, foreign = _fake(tmp_path, "kwok", ours), _fake(tmp_path, "kwok", theirs)
    try:
        time.sleep(0.3)
        plane = LocalControlPlane(LocalClusterConfig(state_dir=str(ours)))
        assert plane.own_processes("kwok") == [stray.pid]
        plane.stop()
        assert stray.wait(timeout=20) is not None
        assert foreign.poll() is None, "another cluster's process is left alone"
    finally:
        for process in (stray, foreign):
            process.kill()


class _Helm:
    """A Kubernetes client (stacks/cluster/kube.py) over Helm's release records as the API server lists them (metadata only);
    records what gets deleted."""

    def __init__(self, records: dict[str, list[tuple[int, str]]]) -> None:
        self.records, self.deleted = records, []

    def call(
        self, method: str, path: str, query: list, headers: dict, body: object, timeout: object = None
    ) -> tuple[int, str, bytes]:
        if method == "DELETE":
            self.deleted.append(path.rsplit("/", 1)[1])
            return 200, "OK", b"{}"
        selector = dict(query)["labelSelector"]
        assert path.endswith("/secrets") and "owner=helm" in selector
        name = re.search(r"name=([^,]+)", selector).group(1)
        items = [
            {"metadata": {"name": f"sh.helm.release.v1.{name}.v{v}", "labels": {"status": s, "version": str(v)}}}
            for v, s in self.records.get(name, [])
        ]
        return 200, "OK", json.dumps({"items": items}).encode()


def test_helm_records_of_unfinished_operations_and_unknown_releases_are_cleared_and_the_rest_kept():
    api = _Helm(
        {
            "istiod": [(1, "deployed"), (2, "pending-upgrade")],
            "istio-base": [(1, "deployed")],
            "istio-ingressgateway": [(1, "deployed")],
            "kiali": [(1, "failed")],
        }
    )
    said = recovery.clear_stuck_helm_releases(
        api,
        {
            ("istio-system", "istiod"): True,
            ("istio-system", "istio-base"): True,
            ("istio-ingress", "istio-ingressgateway"): False,
            ("istio-system", "kiali"): True,
        },
    )
    assert api.deleted == [
        "sh.helm.release.v1.istiod.v2",
        "sh.helm.release.v1.istio-ingressgateway.v1",
        "sh.helm.release.v1.kiali.v1",
    ]
    assert [line.split(" was ")[0] for line in said] == [
        "Helm release istio-system/istiod",
        "Helm release istio-ingress/istio-ingressgateway",
        "Helm release istio-system/kiali",
    ]


def test_the_readme_lists_every_exit_code_with_its_meaning():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    rows = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", table, re.M))
    assert sorted(map(int, rows)) == sorted(EXIT_CODES)


def test_an_engine_lock_is_stale_when_its_holder_is_dead_here_or_it_is_older_than_the_threshold(tmp_path):
    from datetime import datetime, timedelta, timezone

    from meshinstall.stacks.state.backend import STALE_AFTER, engine_lock

    def lock(pid: int, host: str, age: float):
        stamp = (datetime.now(timezone.utc) - timedelta(seconds=age)).isoformat()
        return engine_lock("k", json.dumps({"pid": pid, "username": "bob", "hostname": host, "timestamp": stamp}))

    dead = int(subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True).stdout.strip())
    here = os.uname().nodename
    assert lock(dead, here, 5).stale and lock(dead, here, 5).describe().startswith("stale: the engine's lock by bob@")
    assert not lock(os.getpid(), here, STALE_AFTER * 2).stale, "a live holder here is never stale, however old"
    assert not lock(7, "elsewhere", 60).stale, "a young lock from another host may belong to a run still going"
    assert lock(7, "elsewhere", STALE_AFTER + 60).stale


def test_the_simulated_cluster_runs_without_the_engines_memory_limit(tmp_path, monkeypatch):
    """The engine starts the simulated cluster (a resource of the program) with its own GOMEMLIMIT in the
    environment; the API server, which holds gigabytes at 1000 apps, must not collect under it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("etcd", "kwok"):
        (bin_dir / name).write_text(f'#!/bin/sh\nenv > "{tmp_path}/{name}.env"\n')
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("GOMEMLIMIT", "512MiB")
    plane = LocalControlPlane(LocalClusterConfig(state_dir=str(tmp_path / "cluster"), search_path=str(bin_dir)))
    plane.logs.mkdir(parents=True)
    for name in ("etcd", "kwok"):
        plane._spawn(name, [name])
    for name in ("etcd", "kwok"):
        written = tmp_path / f"{name}.env"
        for _ in range(100):
            if written.exists() and written.read_text():
                break
            time.sleep(0.05)
        child = dict(line.split("=", 1) for line in written.read_text().splitlines() if "=" in line)
        assert "GOMEMLIMIT" not in child and child["PATH"] == os.environ["PATH"], name
    assert child["HOME"] == str(plane.root), "kwok keeps a HOME of its own"
