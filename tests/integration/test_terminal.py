"""What a person sees (issue 29): `preview`, `up` and `destroy` of `dev` driven in a pseudo-terminal at 80×24 and
200×50, as a user meets them, with the real engine and a simulated cluster of the module's own.

Each finished change is one line that stays, in kubectl's names; a preview says what will happen, never that it is
done; a change shows its property diff before the question; the question goes to the terminal, never into a
redirected stdout; nothing is cut."""

from __future__ import annotations

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SECRETS

pytestmark = pytest.mark.integration
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    """A command run with a pseudo-terminal of `cols`×`rows` as its stdin and stderr (and stdout unless redirected),
    answering its questions as a person would."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder, self.env = folder, env

    def run(
        self,
        *args: str,
        size: tuple[int, int] = (80, 24),
        answers: tuple[tuple[str, str], ...] = (),
        stdout: Path | None = None,
        timeout: float = 900,
    ) -> tuple[int, str]:
        cols, rows = size
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        redirect = open(stdout, "w") if stdout else None  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            ["meshinstall", *args],
            stdin=slave,
            stdout=redirect or slave,
            stderr=slave,
            cwd=self.folder,
            env={**self.env, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        seen, pending, deadline = b"", list(answers), time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # the other end closed: the command ended
                        break
                    if not chunk:
                        break
                    seen += chunk
                if pending and pending[0][0] in plain(seen.decode(errors="replace")):
                    os.write(master, pending.pop(0)[1].encode())
                if process.poll() is not None and not ready:
                    break
            code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            os.close(master)
            if redirect:
                redirect.close()
        return code, plain(seen.decode(errors="replace"))


def plain(text: str) -> str:
    """The text without the terminal's control sequences, a carriage return taken as a new line."""
    return ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def lines_of(text: str, word: str) -> list[str]:
    """The objects named on lines that say `word` (`created`, `will update`, ...)."""
    return re.findall(rf"(?<!\S){word} +(\S+ \S+)", text)


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Terminal]:
    folder = tmp_path_factory.mktemp("terminal")
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    shell = Terminal(folder, {**os.environ, **SECRETS, "MESHINSTALL_PASSPHRASE": "terminal-test"})
    try:
        yield shell
    finally:
        subprocess.run(["meshinstall", "destroy", "dev", "--yes"], cwd=folder, env=shell.env, capture_output=True)


def test_a_first_preview_at_80x24_lists_every_object_once_and_says_nothing_is_done(terminal):
    code, screen = terminal.run("preview", "dev", size=(80, 24))
    assert code == 0, screen[-3000:]
    planned = lines_of(screen, "will create")
    assert len(planned) > 50 and len(set(planned)) == len(planned), planned
    assert "Deployment payments/checkout" in planned and "Release istio-system/istiod" in planned, planned
    assert not re.search(r"\b(created|done)\b", screen), screen[-3000:]
    assert f"preview: {len(planned)} change(s): {len(planned)} to create" in screen, screen[-2000:]
    terminal.planned = planned


def test_up_with_stdout_in_a_file_asks_on_the_terminal_and_lists_every_change_once(terminal, tmp_path):
    log = tmp_path / "up.log"
    code, screen = terminal.run("up", "dev", size=(200, 50), answers=(("change(s) to dev?", "y\n"),), stdout=log)
    written = log.read_text()
    assert code == 0, screen[-3000:] + written[-3000:]
    assert "Apply" in screen and "Apply" not in written, "the question is on the terminal, not in the file"
    created = lines_of(written, "created")
    assert sorted(created) == sorted(terminal.planned), set(created) ^ set(terminal.planned)
    stamped = [line for line in written.splitlines() if re.search(r"\b(created|will create)  ", line)]
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in stamped), stamped[:5]
    assert len({len(re.match(r"\S+ (will )?\S+ +", line).group()) for line in stamped}) == 1, "aligned columns"
    assert re.search(r"^doctor: \d+ passed", written, re.MULTILINE) and re.search(r"^verify: \d+ passed", written, re.M)


def test_a_change_at_80x24_shows_its_diff_before_the_question_and_the_count_reaches_the_total(terminal):
    spec = terminal.folder / "environments" / "dev.yaml"
    data = yaml.safe_load(spec.read_text())
    data["mesh"]["ingressGateway"]["replicas"] = 2
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    code, screen = terminal.run("up", "dev", size=(80, 24), answers=(("change(s) to dev?", "y\n"),))
    assert code == 0, screen[-3000:]
    question = screen.index("change(s) to dev?")
    before = screen[:question]
    assert re.search(r"will update +Release istio-ingress/istio-ingressgateway", before), before[-2000:]
    assert re.search(r"replicaCount: 1 → 2", before), before[-2000:]
    after = screen[question:]
    assert len(re.findall(r"updated +Release istio-ingress/istio-ingressgateway", after)) == 1, after[-2000:]
    assert "[1/1] 0 in flight" in after, after[-2000:]
    assert "…" not in screen, "nothing is cut"


def test_adding_an_app_updates_the_dashboard_configmap_in_place(terminal):
    """Issue 29, item 7: adding a team or an app replaced the `mesh-dashboard` ConfigMap (delete, then create)."""
    kubeconfig = terminal.folder / "environments" / ".meshinstall" / "clusters" / "dev" / "kubeconfig"

    def uid() -> str:
        return subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "-n", "monitoring", "get", "configmap"]
            + ["meshinstall-dashboard", "-o", "jsonpath={.metadata.uid}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = uid()
    spec = terminal.folder / "environments" / "dev.yaml"
    data = yaml.safe_load(spec.read_text())
    base = yaml.safe_load((terminal.folder / "environments" / "base.yaml").read_text())
    teams = data.setdefault("paas", {}).setdefault("teams", base["paas"]["teams"])
    teams[0]["apps"].append({"name": "ledger", "image": "registry.example.com/ledger:1.0", "port": 8080})
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    up = subprocess.run(
        ["meshinstall", "up", "dev", "--yes"], cwd=terminal.folder, env=terminal.env, capture_output=True, text=True
    )
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    assert re.search(r"updated +ConfigMap monitoring/meshinstall-dashboard", up.stdout), up.stdout[-3000:]
    assert not re.search(r"(replaced|deleted) +ConfigMap", up.stdout), up.stdout[-3000:]
    assert uid() == before, "the same object, changed in place"


def test_destroy_at_200x50_says_what_it_keeps(terminal):
    code, screen = terminal.run("destroy", "dev", size=(200, 50), answers=(("to destroy it", "dev\n"),))
    assert code == 0, screen[-3000:]
    before = screen[: screen.index("to destroy it")]
    assert re.search(r"will keep +CustomResourceDefinition httproutes\.gateway\.networking\.k8s\.io", before), before
    assert re.search(r"will delete +Deployment payments/checkout", before), before[-3000:]
    assert re.search(r"destroy: \d+ object\(s\) to delete, \d+ to keep", before), before[-3000:]
    assert re.search(r"kept +CustomResourceDefinition httproutes\.gateway\.networking\.k8s\.io", screen), screen[-3000:]
    assert not re.search(r"deleted +CustomResourceDefinition httproutes", screen)
    assert len(lines_of(screen, "deleted")) > 30
