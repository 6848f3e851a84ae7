"""stacks/automation.py: how meshinstall runs the engine's CLI."""

from __future__ import annotations

import json
import stat

import pytest

from meshinstall.stacks.automation import EngineCommand

# Prints its arguments as JSON (and a version when asked), like a pulumi that does nothing.
FAKE_PULUMI = """#!/bin/sh
[ "$1" = version ] && { echo v3.274.1; exit 0; }
python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"
"""


@pytest.fixture
def engine(tmp_path):
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text(FAKE_PULUMI)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    command = EngineCommand(root=str(tmp_path), skip_version_check=True)
    return lambda *args: json.loads(command.run(list(args), str(tmp_path), {}).stdout)


@pytest.mark.parametrize("operation", ["up", "preview", "refresh", "destroy"])
def test_operations_run_without_the_progress_display(engine, operation):
    """The progress display kept every resource's old and new state until the end of an operation: most of the
    engine's memory at 1000 apps. meshinstall reads events, so an operation prints one summary line instead."""
    args = engine(operation, "--yes", "--stack", "dev", "--", "program-arg")
    assert args[0] == "--non-interactive" and args[1] == operation
    assert args.index("--output=json") < args.index("--")


def test_other_commands_and_a_json_preview_keep_their_output(engine):
    assert "--output=json" not in engine("stack", "history", "--json")
    assert "--output=json" not in engine("preview", "--json")
    assert engine("up", "--non-interactive").count("--non-interactive") == 1


def test_the_engine_runs_under_a_memory_limit_unless_the_user_set_their_own(tmp_path, monkeypatch):
    from meshinstall.stacks.driver import ENGINE_MEMORY_LIMIT, PROVIDER_LIMIT_FROM_APPS, PROVIDER_MEMORY_LIMIT_MIB, Places, engine_env

    place = Places(tmp_path, tmp_path / "work", tmp_path / "home", f"file://{tmp_path}")
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    large = engine_env(place, "passphrase", apps=PROVIDER_LIMIT_FROM_APPS)
    assert large["GOMEMLIMIT"] == ENGINE_MEMORY_LIMIT
    assert large["MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB"] == str(PROVIDER_MEMORY_LIMIT_MIB)  # the provider's own, lower
    small = engine_env(place, "passphrase", apps=100)  # the provider under the engine's limit: it collects less often
    assert small["GOMEMLIMIT"] == ENGINE_MEMORY_LIMIT and "MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB" not in small
    monkeypatch.setenv("GOMEMLIMIT", "3GiB")
    env = engine_env(place, "passphrase", apps=PROVIDER_LIMIT_FROM_APPS)
    assert env["GOMEMLIMIT"] == "3GiB" and "MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB" not in env  # the user's, for all


def test_the_engines_version_is_asked_once_per_binary(tmp_path, monkeypatch):
    """Doctor's MI004 asks the engine's version; the binary takes 0.18 s of a core to start, so its answer is kept
    until the binary changes."""
    from meshinstall.stacks import engine as found

    monkeypatch.setenv("MESHINSTALL_TOOLCHAIN_DIR", str(tmp_path / "cache"))
    calls = tmp_path / "calls"
    pulumi = tmp_path / "bin" / "pulumi"
    pulumi.parent.mkdir()
    pulumi.write_text(f"#!/bin/sh\necho x >> {calls}\necho v3.274.1\n")
    pulumi.chmod(0o755)
    assert [found.version(pulumi) for _ in range(3)] == ["v3.274.1"] * 3
    assert calls.read_text().count("x") == 1
    pulumi.write_text(f"#!/bin/sh\necho x >> {calls}\necho v3.280.0\n")  # an upgrade in place
    assert found.version(pulumi) == "v3.280.0" and calls.read_text().count("x") == 2

