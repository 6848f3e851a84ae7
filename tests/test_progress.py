"""The engine's progress as a person sees it (cli/progress.py), fed the engine's events as the engine sends them:
every change once, in kubectl's names, in a preview's words for a preview, with its property diffs, on a terminal of
any size and without one. The real engine in a pseudo-terminal: tests/integration/test_terminal.py."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

from rich.console import Console

from meshinstall.cli.progress import EngineProgress

PROVIDER = "urn:pulumi:dev::meshinstall::pulumi:providers:kubernetes::cluster-k8s::id"


def step(op: str, kind: str, name: str, namespace: str = "", old: dict | None = None, new: dict | None = None, **more):
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    state = lambda inputs: SimpleNamespace(  # noqa: E731
        custom=True, retain_on_delete=more.get("retain", False), inputs={"metadata": metadata, **(inputs or {})}
    )
    return SimpleNamespace(
        op=SimpleNamespace(value=op),
        urn=f"urn:pulumi:dev::meshinstall::{kind}::{namespace}-{name}",
        type=kind,
        provider=PROVIDER,
        old=state(old) if old is not None or op in ("update", "delete") else None,
        new=state(new) if op != "delete" else None,
        keys=more.get("keys", []),
        diffs=list(more.get("detailed", {})),
        detailed_diff=more.get("detailed"),
    )


def event(pre=None, done=None, failed=None):
    return SimpleNamespace(
        resource_pre_event=SimpleNamespace(metadata=pre) if pre else None,
        res_outputs_event=SimpleNamespace(metadata=done) if done else None,
        res_op_failed_event=SimpleNamespace(metadata=failed) if failed else None,
    )


def run(steps, operation: str = "up", terminal: bool = False, width: int = 200, height: int = 50) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=width, height=height, soft_wrap=True, highlight=False)
    wrapper = SimpleNamespace(
        op=SimpleNamespace(value="create"),
        urn="urn:pulumi:dev::meshinstall::meshinstall:components:Apps::apps",
        type="meshinstall:components:Apps",
        provider="",
        old=None,
        new=SimpleNamespace(custom=False, retain_on_delete=False, inputs={}),
        keys=[],
        diffs=[],
        detailed_diff=None,
    )
    with EngineProgress(console, operation) as progress:
        progress(event(pre=wrapper))
        for meta in steps:
            progress(event(pre=meta))
        for meta in steps:
            progress(event(done=meta))
        progress(event(done=wrapper))
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())


def creates(n: int):
    return [step("create", "kubernetes:apps/v1:Deployment", f"app-{i}", "demo") for i in range(n)]


def test_every_one_of_71_creates_is_printed_once_at_any_terminal_size():
    for width, height in ((80, 24), (200, 50)):
        shown = run(creates(71), terminal=True, width=width, height=height)
        for i in range(71):
            assert len(re.findall(rf"created +Deployment demo/app-{i}\b", shown)) == 1, (i, shown)
        assert "Apps" not in shown, "a component wrapper is neither shown nor counted"


def test_a_preview_says_what_will_happen_never_that_it_is_done():
    shown = re.sub(" +", " ", run(creates(3), operation="preview"))
    assert shown.count("will create Deployment demo/app-") == 3, shown
    assert "created" not in shown and "done" not in shown


def test_without_a_terminal_each_line_has_its_time_and_the_columns_stay_aligned():
    steps = [
        step("create", "kubernetes:core/v1:ConfigMap", "mesh-dashboard", "monitoring"),
        step("delete", "kubernetes:core/v1:ConfigMap", "old", "monitoring"),
        step("create", "kubernetes:helm.sh/v3:Release", "istiod", "istio-system", new={"name": "istiod"}),
    ]
    lines = run(steps).splitlines()
    assert [re.match(r"\d\d:\d\d:\d\d (\S+) +(\S+ \S+)", line).groups() for line in lines] == [
        ("created", "ConfigMap monitoring/mesh-dashboard"),
        ("deleted", "ConfigMap monitoring/old"),
        ("created", "Release istio-system/istiod"),
    ]
    assert len({line.index(line.split()[2]) for line in lines}) == 1, lines


def test_a_change_shows_the_properties_that_change_and_a_kept_object_is_not_deleted():
    canary = step(
        "update",
        "kubernetes:networking.istio.io/v1:VirtualService",
        "invoices",
        "billing",
        old={"spec": {"http": [{"route": [{"weight": 80}, {"weight": 20}]}]}},
        new={"spec": {"http": [{"route": [{"weight": 50}, {"weight": 50}]}]}},
        detailed={"spec.http[0].route[0].weight": {}, "spec.http[0].route[1].weight": {}},
    )
    crd = step(
        "delete",
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        "httproutes.gateway.networking.k8s.io",
        retain=True,
    )
    shown = re.sub(" +", " ", run([canary, crd], operation="preview"))
    assert "will update VirtualService billing/invoices" in shown
    assert "spec.http[0].route[0].weight: 80 → 50" in shown and "spec.http[0].route[1].weight: 20 → 50" in shown
    assert "will keep CustomResourceDefinition httproutes.gateway.networking.k8s.io" in shown, shown


def test_a_secret_value_is_never_shown_in_a_diff():
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "grafana-pw-123"}
    change = step(
        "update",
        "kubernetes:core/v1:Secret",
        "grafana-admin",
        "monitoring",
        old={"stringData": {"password": secret}},
        new={"stringData": {"password": {**secret, "value": "new-pw"}}},
        detailed={'stringData["password"]': {}},
    )
    shown = run([change])
    assert 'stringData["password"]: [secret] → [secret]' in shown, shown
    assert "grafana-pw-123" not in shown and "new-pw" not in shown


def test_a_replacement_is_one_line_with_its_reason():
    kind = "kubernetes:apps/v1:Deployment"
    steps = [
        step(
            op,
            kind,
            "hello",
            "demo",
            old={"spec": {"selector": 1}},
            new={"spec": {"selector": 2}},
            keys=["spec.selector"],
        )
        for op in ("create-replacement", "replace", "delete-replaced")
    ]
    shown = run(steps)
    assert shown.count("replaced") == 2 and "replaced because spec.selector change" in shown, shown


def test_a_plan_is_grouped_by_the_component_each_change_belongs_to():
    app = "urn:pulumi:dev::meshinstall::meshinstall:components:App::payments-checkout"
    plane = "urn:pulumi:dev::meshinstall::meshinstall:components:ControlPlane::control-plane"
    steps = [
        step("create", "kubernetes:core/v1:Service", "checkout", "payments"),
        step("create", "kubernetes:helm.sh/v3:Release", "istiod", "istio-system"),
        step("create", "kubernetes:apps/v1:Deployment", "checkout", "payments"),
    ]
    for each, parent in zip(steps, (app, plane, app), strict=True):
        each.new.parent = parent
    shown = [line.split(" ", 1)[1] for line in run(steps, operation="preview").splitlines()]
    assert [re.sub(" +", " ", line) for line in shown] == [
        "App payments-checkout:",
        "will create Service payments/checkout",
        "will create Deployment payments/checkout",
        "ControlPlane control-plane:",
        "will create Release istio-system/istiod",
    ], shown
