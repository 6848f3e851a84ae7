"""Which cluster an environment runs on: one answer for the program, the checks and the CLI."""

from __future__ import annotations

from pathlib import Path

from meshinstall.checks.base import Context
from meshinstall.cli.main import main
from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.cluster.target import ClusterTarget


def test_a_simulated_environment_lives_next_to_its_spec(isolated):
    spec = load_spec(isolated / "environments" / "dev.yaml")
    target = ClusterTarget.of(spec)
    state = isolated / "environments" / ".meshinstall" / "clusters" / "dev"
    assert target.simulated and target.environment == "dev"
    assert (target.kubeconfig, target.context) == (str(state / "kubeconfig"), None)
    assert target.simulator.state_dir == str(state) and target.simulator.nodes == spec.cluster.nodes
    assert target.control_plane().root == state
    assert target.cluster_args().simulated == target.simulator


def test_an_existing_cluster_is_its_kubeconfig_and_context(isolated):
    target = ClusterTarget.of(load_spec(isolated / "environments" / "staging.yaml"))
    assert not target.simulated and target.simulator is None and target.control_plane() is None
    assert (target.kubeconfig, target.context) == (str(isolated / "home" / ".kube" / "config"), "staging-admin")
    args = target.cluster_args()
    assert (args.kubeconfig, args.context, args.simulated) == (target.kubeconfig, "staging-admin", None)


def test_checks_ask_the_same_target(isolated):
    for env, simulated in (("dev", True), ("staging", False)):
        path = isolated / "environments" / f"{env}.yaml"
        ctx = Context(load_spec(path), path)
        assert ctx.simulated is simulated and ctx.spec.cluster.simulated is simulated
        assert ctx.kubeconfig == (ctx.target.kubeconfig, ctx.target.context)


def test_cluster_commands_answer_from_the_target(isolated, capsys):
    assert main(["cluster", "kubeconfig", "staging"]) == 0
    assert capsys.readouterr().out.strip() == str(Path(isolated / "home" / ".kube" / "config"))
    assert main(["cluster", "kubeconfig", "dev"]) == 2
    assert "dev's simulated cluster does not exist yet: run `meshinstall up dev`" in capsys.readouterr().err
    assert main(["cluster", "status", "dev"]) == 0
    assert capsys.readouterr().out.startswith("dev: not created\n")
    assert main(["cluster", "status", "staging"]) == 2
    assert "staging uses an existing cluster" in capsys.readouterr().err
