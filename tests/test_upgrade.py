"""The plan of a mesh upgrade: revisions, waves, gates, and the rules that refuse an upgrade."""

from __future__ import annotations

import json

import pytest
import yaml

from meshinstall.errors import SpecInvalid, UsageError
from meshinstall.schemas.validate import load_spec
from meshinstall.stacks.program.upgrade import GATE_CHECKS, Installed, plan


def spec_with(isolated, change) -> object:
    path = isolated / "environments" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_spec(path)


def at(version: str, **upgrade):
    def change(data: dict) -> None:
        data["mesh"]["version"] = version
        if upgrade:
            data["mesh"]["upgrade"] = upgrade

    return change


def test_the_same_version_or_a_first_install_plans_no_upgrade(isolated):
    spec = spec_with(isolated, at("1.30.3"))
    assert plan(spec, Installed("1.30.3")) is None
    assert plan(spec, None) is None


def test_a_canary_plan_names_the_revisions_one_team_per_wave_the_gateways_and_the_gates(isolated):
    upgrade = plan(spec_with(isolated, at("1.30.3")), Installed("1.29.6"))
    assert (upgrade.strategy, upgrade.old_revision, upgrade.new_revision) == ("canary", "default", "1-30-3")
    assert [w.teams for w in upgrade.waves] == [("payments",), ("storefront",)]
    assert [w.namespaces for w in upgrade.waves] == [("payments",), ("storefront",)]
    assert upgrade.gateways == ("istio-ingressgateway",) and upgrade.gates == GATE_CHECKS
    text = "\n".join(upgrade.lines())
    assert "mesh upgrade 1.29.6 -> 1.30.3, canary: revision 1-30-3 installed beside default, then 2 wave(s):" in text
    assert "wave 1: payments (namespaces payments); gate: MI101" in text
    assert "then revision default removed" in text


def test_named_waves_come_first_and_the_other_teams_follow_in_waves_of_the_given_size(isolated):
    def change(data: dict) -> None:
        at("1.30.3", waves=[["storefront"]], teamsPerWave=2)(data)
        base = yaml.safe_load((isolated / "environments" / "base.yaml").read_text())
        data.setdefault("paas", {})["teams"] = base["paas"]["teams"] + [
            {"name": "search", "quota": {"cpu": "1", "memory": "1Gi", "pods": 5}}
        ]

    upgrade = plan(spec_with(isolated, change), Installed("1.29.6", "1-29-6"))
    assert [w.teams for w in upgrade.waves] == [("storefront",), ("payments", "search")]
    assert upgrade.old_revision == "1-29-6"


def test_in_place_keeps_the_revision_and_says_it_is_not_gated(isolated):
    upgrade = plan(spec_with(isolated, at("1.30.3", strategy="in-place")), Installed("1.29.6"))
    assert upgrade.new_revision == upgrade.old_revision == "default" and upgrade.gates == ()
    assert "not gated by checks" in upgrade.lines()[0]


def test_a_downgrade_needs_allow_downgrade(isolated):
    spec = spec_with(isolated, at("1.29.6", strategy="in-place"))
    with pytest.raises(UsageError, match="--allow-downgrade"):
        plan(spec, Installed("1.30.3"))
    assert plan(spec, Installed("1.30.3"), allow_downgrade=True).new_version == "1.29.6"


def test_a_step_of_more_than_two_minor_versions_is_refused(isolated):
    spec = spec_with(isolated, at("1.30.3"))
    with pytest.raises(UsageError, match="skips more than 2 minor versions"):
        plan(spec, Installed("1.27.0"))
    assert plan(spec, Installed("1.28.1")) is not None


def test_waves_must_name_teams_of_the_spec_once_each_with_the_exact_path(isolated):
    with pytest.raises(SpecInvalid) as invalid:
        spec_with(isolated, at("1.30.3", waves=[["payments"], ["payments", "nobody"]]))
    found = {(p.path, p.message) for p in invalid.value.problems}
    assert ("$.mesh.upgrade.waves[1][0]", "team 'payments' is already in an earlier wave") in found
    assert ("$.mesh.upgrade.waves[1][1]", "team 'nobody' is not a team of this spec") in found
    assert all(p.file.endswith("dev.yaml") and p.line > 0 for p in invalid.value.problems)


def test_an_in_place_upgrade_has_no_waves(isolated):
    with pytest.raises(SpecInvalid, match="1 problem"):
        spec_with(isolated, at("1.30.3", strategy="in-place", waves=[["payments"]]))


def test_the_installed_version_and_revision_come_from_the_istiod_release_in_the_state(isolated, tmp_path):
    from meshinstall.operations import upgrade as upgrades
    from meshinstall.stacks.engine import environment
    from meshinstall.stacks.state.backend import FileBackend

    def state_with(release: str, version: str, revision: str = "") -> environment.Environment:
        folder = tmp_path / release / ".pulumi" / "stacks" / "meshinstall"
        folder.mkdir(parents=True)
        resources = [
            {
                "type": "kubernetes:helm.sh/v3:Release",
                "id": f"istio-system/{release}",
                "outputs": {"version": version, "values": {"revision": revision}, "status": {"revision": 1}},
            }
        ]
        (folder / "dev.json").write_text(json.dumps({"version": 3, "checkpoint": {"latest": {"resources": resources}}}))
        return environment.Environment(
            "dev", FileBackend(tmp_path / release), select=None, target=None, program_inputs={}, fingerprint=None
        )

    spec = spec_with(isolated, at("1.30.3"))
    first = upgrades.plan_for(state_with("istiod", "1.29.6"), spec)
    assert (first.old_version, first.old_revision, first.new_revision) == ("1.29.6", "default", "1-30-3")
    assert upgrades.plan_for(state_with("istiod-1-30-3", "1.30.3", "1-30-3"), spec) is None
    revisioned = upgrades.plan_for(state_with("istiod-revisioned", "1.29.6", "1-29-6"), spec)
    assert revisioned.old_revision == "1-29-6"


# --- the program at one step of a canary upgrade (mocks) ---------------------------------------------------------


def test_mid_upgrade_two_istiod_revisions_run_side_by_side_and_each_team_gets_its_own(isolated):
    from conftest import SECRETS

    from meshinstall.stacks.cluster.target import ClusterTarget
    from meshinstall.stacks.program import gateway_api, program
    from meshinstall.stacks.program.offline import run
    from meshinstall.stacks.program.upgrade import MeshLayout, Revision
    from meshinstall.stacks.state import secrets

    spec = spec_with(isolated, at("1.30.3"))
    old, new = Revision("default", "1.29.6"), Revision("1-30-3", "1.30.3", "istiod-1-30-3")
    layout = MeshLayout((old, new), old, "1.30.3", {"payments": "1-30-3"})
    crds = gateway_api.plan(spec, ClusterTarget.of(spec))
    registered = run(
        lambda: program.build(spec, secrets.resolve(spec, SECRETS), crds, None, layout), stack="dev"
    ).values()
    releases = {r.name: r for r in registered if r.type.endswith("helm.sh/v3:Release")}
    assert (
        releases["istiod"].inputs["chart"].endswith("istiod-1.29.6.tgz")
        and releases["istiod"].inputs["values"]["revision"] == ""
    )
    assert releases["istiod-1-30-3"].inputs["chart"].endswith("istiod-1.30.3.tgz")
    assert releases["istiod-1-30-3"].inputs["values"]["revision"] == "1-30-3"
    assert (
        releases["istio-base"].inputs["chart"].endswith("base-1.30.3.tgz")
        and releases["istio-base"].inputs["values"]["defaultRevision"] == "default"
    )
    assert releases["istio-ingressgateway"].inputs["chart"].endswith("gateway-1.29.6.tgz"), (
        "the gateways move after the last wave"
    )
    assert {releases["istiod"].urn, releases["istiod-1-30-3"].urn} <= set(releases["istio-ingressgateway"].dependencies)
    labels = {r.name: r.inputs["metadata"]["labels"] for r in registered if r.type.endswith("core/v1:Namespace")}
    assert labels["payments-ns"]["istio.io/rev"] == "1-30-3" and "istio-injection" not in labels["payments-ns"]
    assert labels["storefront-ns"]["istio-injection"] == "enabled" and "istio.io/rev" not in labels["storefront-ns"]


def test_the_phases_install_beside_move_each_wave_then_the_gateways_then_remove_the_old_revision(isolated):
    from meshinstall.stacks.program.upgrade import phases

    upgrade = plan(spec_with(isolated, at("1.30.3")), Installed("1.29.6"))
    steps = phases(upgrade, Installed("1.29.6"))
    assert [s.name for s in steps] == [
        "install revision 1-30-3",
        "wave 1: payments",
        "wave 2: storefront",
        "gateways",
        "remove revision default",
    ]
    first, wave1, wave2, gateways, last = steps
    assert [r.release for r in first.layout.revisions] == [
        "istiod",
        "istiod-1-30-3",
    ] and first.layout.gateway.name == "default"
    assert (wave1.layout.team_revision("payments").name, wave1.layout.team_revision("storefront").name) == (
        "1-30-3",
        "default",
    )
    assert wave1.restart == ("payments",) and wave1.gate == GATE_CHECKS and not gateways.gate
    assert first.gate == ("MI101", "MI102"), "the new revision is checked before any namespace moves"
    assert wave2.layout.team_revision("storefront").name == "1-30-3"
    assert gateways.layout.gateway.version == "1.30.3"
    assert [r.name for r in last.layout.revisions] == ["1-30-3"] and last.layout.team_revision(
        "payments"
    ).release == "istiod-1-30-3"


def test_a_spec_that_names_its_revision_names_the_new_one_for_a_canary_upgrade(isolated):
    def named(revision: str):
        def change(data: dict) -> None:
            at("1.30.3")(data)
            data["mesh"]["revision"] = revision

        return change

    with pytest.raises(UsageError, match="is the installed revision"):
        plan(spec_with(isolated, named("stable")), Installed("1.29.6", "stable"))
    assert plan(spec_with(isolated, named("blue")), Installed("1.29.6", "stable")).new_revision == "blue"


class _Env:
    """An opened environment as the rollout sees it: what it is laid out as, each time."""

    target = None

    def __init__(self) -> None:
        self.laid_out: list[tuple[object, object]] = []

    def lay_out(self, layout, record) -> None:
        self.laid_out.append((layout, record))


def _rollout_of(isolated, monkeypatch, failing_at: str | None):
    from meshinstall.operations import upgrade as rollout
    from meshinstall.stacks.cluster import restarts
    from meshinstall.stacks.program.upgrade import phases

    restarted: list[tuple[str, ...]] = []
    monkeypatch.setattr(
        restarts, "restart_deployments", lambda _target, namespaces: restarted.append(tuple(namespaces))
    )
    installed = Installed("1.29.6")
    upgrade = plan(spec_with(isolated, at("1.30.3")), installed)
    env, ups, said = _Env(), [], []

    def gate(layout, ids):
        return ["MI402"] if failing_at and layout.team_revisions.get(failing_at) == "1-30-3" else []

    hooks = rollout.Hooks(up=lambda: ups.append(env.laid_out[-1]), gate=gate, say=said.append)
    return rollout, upgrade, installed, env, ups, restarted, hooks, phases(upgrade, installed)


def test_a_rollout_runs_every_phase_records_each_and_restarts_each_wave(isolated, monkeypatch):
    rollout, upgrade, installed, env, ups, restarted, hooks, steps = _rollout_of(isolated, monkeypatch, None)
    rollout.carry_out(env, upgrade, installed, 0, hooks)
    assert [layout for layout, _ in ups] == [s.layout for s in steps]
    assert [record["phase"] if record else None for _, record in ups] == [0, 1, 2, 3, None]
    assert restarted == [("payments",), ("storefront",)]


def test_a_failing_gate_rolls_every_moved_wave_back_and_removes_the_new_revision(isolated, monkeypatch):
    from meshinstall.errors import VerificationFailed

    rollout, upgrade, installed, env, ups, restarted, hooks, steps = _rollout_of(isolated, monkeypatch, "storefront")
    with pytest.raises(VerificationFailed, match="rolled back at wave 2: storefront: MI402 failed"):
        rollout.carry_out(env, upgrade, installed, 0, hooks)
    back, last = ups[-2][0], ups[-1][0]
    assert back == steps[0].layout, "first every team back on the old revision, both revisions running"
    assert [r.name for r in last.revisions] == ["default"] and last.gateway.version == "1.29.6", (
        "then the new revision removed"
    )
    assert restarted[-1] == ("payments", "storefront")


def test_without_rollback_a_failing_gate_stops_where_it_is_and_says_how_to_go_on(isolated, monkeypatch):
    from meshinstall.errors import VerificationFailed

    rollout, upgrade, installed, env, ups, restarted, hooks, steps = _rollout_of(isolated, monkeypatch, "payments")
    with pytest.raises(
        VerificationFailed, match="upgrade stopped at wave 1: payments: MI402 failed. Nothing was rolled back"
    ):
        rollout.carry_out(env, upgrade, installed, 0, hooks, rollback=False)
    assert [layout for layout, _ in ups] == [steps[0].layout, steps[1].layout]


def test_a_resumed_rollout_starts_at_the_recorded_phase(isolated, monkeypatch):
    rollout, upgrade, installed, env, ups, restarted, hooks, steps = _rollout_of(isolated, monkeypatch, None)
    rollout.carry_out(env, upgrade, installed, 2, hooks)
    assert [layout for layout, _ in ups] == [s.layout for s in steps[2:]]
    assert restarted == [("storefront",)]
