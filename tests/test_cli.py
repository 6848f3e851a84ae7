"""The command line, in-process: exit codes and what the user sees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from meshinstall.cli.main import cli, main

BROKEN = """\
extends: base.yaml
metadata: {name: dev}
cluster: {provider: simulated}
paas:
  teams:
    - name: payments
      apps:
        - {name: checkout, image: "registry.example.com/c:1", port: 70000}
"""


def run(*args: str) -> tuple[int, str, str]:
    """Run `meshinstall ARGS` the way the console script does; returns (exit code, stdout, stderr)."""
    runner = CliRunner()
    result = runner.invoke(_entry, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


import click  # noqa: E402


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def _entry(ctx: click.Context) -> None:
    sys.exit(main(list(ctx.args)))


def test_validate_all_example_environments(isolated):
    code, out, _ = run("validate")
    assert code == 0
    assert "valid: dev, linkerd, prod, staging" in out


def test_invalid_spec_exits_3_with_file_line_and_path(isolated):
    (isolated / "environments" / "dev.yaml").write_text(BROKEN)
    code, _, err = run("validate", "environments/dev.yaml")
    assert code == 3
    assert "environments/dev.yaml:8:69: $.paas.teams[0].apps[0].port: 70000 is greater than the maximum of 65535" in err


def test_validate_reads_each_file_as_given_and_reports_a_missing_one_beside_the_others(isolated):
    """A file that cannot be read is one problem of the run, reported with every other file's: the argument is a
    path, never an environment name looked up in ./environments."""
    (isolated / "environments" / "dev.yaml").write_text(BROKEN)
    code, _, err = run("validate", "dev", "environments/dev.yaml")
    assert code == 3
    assert "dev:1:1: $: cannot read the file" in err
    assert "environments/dev.yaml:8:69: $.paas.teams[0].apps[0].port: 70000" in err


def test_validate_json_for_ci(isolated):
    (isolated / "environments" / "dev.yaml").write_text(BROKEN)
    code, out, _ = run("validate", "--json", "environments/dev.yaml")
    assert code == 3
    report = json.loads(out)
    assert report["valid"] is False
    assert [(p["line"], p["path"]) for p in report["problems"]] == [(8, "$.paas.teams[0].apps[0].port")]


@pytest.mark.parametrize("command", ["preview", "up", "refresh", "destroy"])
def test_engine_commands_refuse_an_invalid_spec_before_touching_state(isolated, monkeypatch, command):
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "x")
    (isolated / "environments" / "dev.yaml").write_text(BROKEN)
    code, _, err = run(command, "dev", "--yes") if command in ("up", "destroy") else run(command, "dev")
    assert code == 3
    assert "$.paas.teams[0].apps[0].port" in err
    assert not (isolated / "environments" / ".meshinstall").exists()


def test_missing_passphrase_is_a_usage_error(isolated):
    code, _, err = run("preview", "staging")
    assert code == 2
    assert "MESHINSTALL_PASSPHRASE is not set" in err
    assert not (isolated / "environments" / ".meshinstall").exists()


@pytest.mark.parametrize("command", ["preview", "up"])
def test_missing_secret_names_the_variable_not_a_value(isolated, monkeypatch, command):
    """`preview` and `up` give the same exit code for the same missing secret (`up` exited 4, from its doctor)."""
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "x")
    monkeypatch.setenv("CHECKOUT_DB_PASSWORD", "s3cret-value")
    code, _, err = run(command, "staging")
    assert code == 2
    assert "$.monitoring.grafana.adminPassword: environment variable GRAFANA_ADMIN_PASSWORD is not set" in err
    assert "s3cret-value" not in err
    assert not (isolated / "environments" / ".meshinstall").exists(), "nothing started"


def test_unknown_environment_lists_the_known_ones(isolated):
    code, _, err = run("preview", "qa")
    assert code == 2
    assert "known: dev, linkerd, prod, staging)" in err, "base.yaml, which the others extend, is not an environment"


def test_prod_destroy_needs_yes_and_force(isolated):
    code, _, err = run("destroy", "prod", "--yes")
    assert code == 2
    assert "--yes --force" in err


def test_destroy_asks_for_the_environment_name(isolated, monkeypatch):
    from meshinstall.cli.view import TerminalView
    from meshinstall.operations import apply

    monkeypatch.setattr(TerminalView, "can_ask", lambda self: True)  # as at a terminal
    plan = ["will delete   Deployment payments/checkout", "will keep     CustomResourceDefinition x"]
    monkeypatch.setattr(apply, "removal_plan", lambda spec: plan)
    result = CliRunner().invoke(_entry, ["destroy", "staging"], input="stagin\n")
    assert result.exit_code == 2
    assert "nothing was destroyed" in result.stderr
    said = result.stdout + result.stderr
    assert said.index(plan[0]) < said.index(plan[1]) < said.index("Type the environment name"), said
    assert "Type the environment name (staging) to destroy it" in result.stderr, "the question is on stderr"
    assert "Type the environment name" not in result.stdout


def test_without_a_terminal_to_ask_on_destroy_refuses_at_once(isolated):
    """Issue 29: with stdin not a terminal (CI, a pipe), a question would wait or land in a redirected file."""
    result = CliRunner().invoke(_entry, ["destroy", "staging"], input="")
    assert result.exit_code == 2
    assert "no terminal to ask on: Type the environment name (staging) to destroy it" in result.stderr
    assert "with --yes to go on without asking; nothing was changed" in result.stderr


def test_init_writes_a_starter_that_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("init")
    assert code == 0 and (tmp_path / "environments" / "dev.yaml").is_file()
    assert (tmp_path / "environments" / "teams" / "demo" / "hello.yaml").is_file()  # the team's Score file
    assert run("validate")[0] == 0
    code, _, err = run("init")
    assert code == 2 and "exists" in err


def test_usage_error_exit_code(isolated):
    assert run("validate", "--no-such-flag")[0] == 2


def test_version_and_validate_do_not_import_pulumi(environments):
    probe = (
        "import sys; from meshinstall.cli.main import main; "
        f"code = main(['validate', {str(environments / 'dev.yaml')!r}]); "
        "main(['--version']) if False else None; "
        "print(code, any(m.split('.')[0] in ('pulumi', 'pulumi_kubernetes') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("0 False")
    version = subprocess.run(
        [sys.executable, "-m", "meshinstall.cli.main", "--version"], capture_output=True, text=True
    )
    assert version.stdout.strip() == "meshinstall, version 0.1.0"


def test_help_documents_exit_codes():
    result = CliRunner().invoke(cli, ["--help"])
    assert "3 the spec is invalid" in result.output


def test_versions_lists_both_istio_releases_and_linkerd_with_their_kubernetes_range():
    code, out, _ = run("versions")
    assert code == 0
    assert out.splitlines() == [
        "istio 1.29.6: Kubernetes 1.31 to 1.35",
        "istio 1.30.3: Kubernetes 1.32 to 1.36",
        "linkerd edge-26.8.3: Kubernetes 1.31 and newer",
    ]


@pytest.mark.parametrize("left_out", ["gateway-api-v1.6.1-standard.crds.yaml", "jaeger-4.11.1.tgz"])
def test_a_mirror_that_lacks_a_file_is_a_usage_error_before_the_engine(isolated, monkeypatch, left_out):
    from conftest import CHARTS, SECRETS

    mirror = isolated / "mirror"
    mirror.mkdir()
    for item in CHARTS.iterdir():
        if item.name != left_out:
            (mirror / item.name).symlink_to(item)
    monkeypatch.setenv("MESHINSTALL_CHARTS_MIRROR", str(mirror))
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "x")
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    code, _, err = run("preview", "dev")
    assert code == 2
    assert f"{left_out} is not in the mirror" in err and str(mirror) in err
    assert "Traceback" not in err
    assert not (isolated / "environments" / ".meshinstall").exists()


def test_a_ctrl_c_during_ups_checks_says_the_update_stands_and_exits_130(isolated, monkeypatch):
    """Without it, click reports the KeyboardInterrupt as an interrupt before the engine ran: "nothing was applied"."""
    from contextlib import nullcontext

    from meshinstall.operations import apply, checks, upgrade

    def run_checks(command: str, *_args, **_kwargs) -> None:
        if command == "verify":
            raise KeyboardInterrupt

    monkeypatch.setattr(apply, "changing", lambda *_a, **_k: nullcontext(None))
    monkeypatch.setattr(apply.environment, "read_secrets", lambda spec: None)
    monkeypatch.setattr(upgrade, "announce", lambda *_a: None)
    monkeypatch.setattr(apply, "converge", lambda *_a: None)  # the engine's update, done
    monkeypatch.setattr(checks, "run", run_checks)
    code, _, err = run("up", "dev", "--yes")
    assert code == 130
    assert "interrupted after the update, which is applied and recorded; the checks did not finish" in err
    assert "meshinstall verify dev" in err and "nothing was applied" not in err


def test_one_yaml_mistake_in_the_base_is_one_error_not_nine(isolated):
    """Issue 29: a mis-indented line in base.yaml gave its syntax error, then 8 false errors against dev.yaml (the
    properties base.yaml holds, reported missing), each twice; and once more for each environment."""
    base = isolated / "environments" / "base.yaml"
    base.write_text(base.read_text().replace("  profile: default\n", "   profile: default\n", 1))
    for args in (("validate", "environments/dev.yaml"), ("validate",)):
        code, _, err = run(*args)
        assert code == 3, err
        lines = [line for line in err.splitlines() if line.startswith("environments/")]
        assert len(lines) == 1 and "environments/base.yaml:8:" in lines[0] and "YAML syntax error" in lines[0], err
        assert "1 problem found" in err


def test_without_a_terminal_no_value_is_cut_at_80_columns(capsys):
    """Issue 29: `status` into a file cut values at 80 columns (`…/clusters/dev/ku…`)."""
    from meshinstall.cli import render

    long = "/home/platform/repositories/platform/environments/.meshinstall/clusters/dev/kubeconfig-of-a-long-path"
    render.outputs(render.console(), {"kubeconfig": long, "urls": {"grafana": long + "/grafana"}})
    table = render.Table("started", "who", "changes")
    table.add_row("2026-12-07 21:52:47", "alice@a-long-host-name.example.com", "create 87, update 12, " + long)
    render.console().print(table)
    out = capsys.readouterr().out
    assert f"kubeconfig: {long}\n" in out and f"  grafana: {long}/grafana\n" in out
    assert long in out.split("kubeconfig:")[1].split("urls")[1], "a table row is not cut either"
    assert "…" not in out


def test_diff_names_each_differing_field_with_where_each_value_comes_from(isolated):
    code, out, _ = run("diff", "staging", "prod")
    assert code == 0
    lines = out.splitlines()
    at = lines.index("$.mesh.ingressGateway.replicas")
    assert lines[at + 1 : at + 3] == [
        "  staging: 2  (environments/base.yaml:11:45)",
        "  prod: 3  (environments/prod.yaml:16:30)",
    ]
    at = lines.index("$.mesh.upgrade.pauseSeconds")
    assert lines[at + 1 : at + 3] == ["  staging: 60  (environments/staging.yaml:14:80)", "  prod: 0  (default)"]
    at = lines.index("$.mesh.revision")
    assert lines[at + 1] == "  staging: (not set)"
    assert "$.mesh.provider" not in lines and lines[-1].endswith("difference(s)")


def test_diff_as_json_and_of_an_environment_with_itself(isolated):
    code, out, _ = run("diff", "dev", "linkerd", "--json")
    assert code == 0
    found = {d["path"]: d for d in json.loads(out)["differences"]}
    assert found["$.mesh.provider"]["left"] == {"value": "istio", "from": "environments/base.yaml:6:13"}
    assert found["$.mesh.provider"]["right"] == {"value": "linkerd", "from": "environments/linkerd.yaml:16:13"}
    code, out, _ = run("diff", "dev", "dev")
    assert (code, out.strip()) == (0, "dev and dev are the same")


def test_diff_of_an_invalid_spec_is_exit_3_with_its_problems(isolated):
    (isolated / "environments" / "dev.yaml").write_text("apiVersion: meshinstall/v1\nkind: MeshSpec\n")
    code, _, err = run("diff", "dev", "prod")
    assert code == 3 and "dev.yaml" in err


def test_certs_of_an_istio_environment_are_istiods(isolated, monkeypatch):
    monkeypatch.setenv("MESHINSTALL_PASSPHRASE", "unit")
    for command in (("certs", "show", "dev"), ("certs", "rotate", "dev", "--yes")):
        code, _, err = run(*command)
        assert code == 2 and "dev runs istio: its control plane makes and rotates its own certificates" in err
