"""The Pulumi program: the validated spec, wired into components in dependency order."""

from __future__ import annotations

import functools
import importlib
import threading
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ...components import ADOPTED
from ...components.cluster import Cluster
from ...components.control_plane import ControlPlane
from ...components.gateway_api import GatewayApi, GatewayApiArgs
from ...components.linkerd import LinkerdControlPlane
from ...components.manifests.app import service_host
from ...components.monitoring import MonitoringStack
from ...components.paas import PaasLayer
from ...components.sidecars import Sidecars
from ...schemas.model import Spec
from ..cluster.target import ClusterTarget
from ..state.recorded import INPUTS_OUTPUT, READ_AT_OUTPUT, REFRESHED_OUTPUT
from ..state.secrets import ResolvedSecrets
from .args import control_plane_args, linkerd_args, monitoring_args, paas_args, sidecars_args
from .gateway_api import GatewayApiPlan
from .identity import IDENTITY_OUTPUT
from .releases import chart_mirror, releases
from .upgrade import RECORD_OUTPUT, MeshLayout, steady

# What the program loads of the Kubernetes SDK ("module" or "module:Class" under pulumi_kubernetes; tests/test_sdk.py
# keeps the list whole). It loads on first use, in the program's own thread, where it held every resource back
# (0.5 s, most of it core.v1's input types); `import_ahead` loads it while the engine starts.
K8S_IMPORTS = (
    "meta.v1",
    "core.v1",
    "apps.v1",
    "apps.v1beta1",
    "apps.v1beta2",
    "rbac.v1",
    "rbac.v1alpha1",
    "rbac.v1beta1",
    "networking.v1",
    "networking.v1alpha1",
    "networking.v1beta1",
    "helm.v3",
    "helm.v4",
    "apiextensions",
    "apiextensions.v1:CustomResourceDefinition",
)


@dataclass(frozen=True)
class Recording:
    """What the program exports for the next `up`: the inputs fingerprint and whether this operation read the
    cluster first: the engine refreshed, or (`read_at`, ISO 8601) meshinstall found every object as left then."""

    inputs: str
    refreshed: bool
    read_at: str | None = None


def load_k8s_sdk() -> None:
    """Load K8S_IMPORTS. Failures are left to the program's own imports, which report them."""
    for name in K8S_IMPORTS:
        module, _, attribute = name.partition(":")
        try:
            loaded = importlib.import_module(f"pulumi_kubernetes.{module}")
            if attribute:
                getattr(loaded, attribute)  # a class the package loads lazily, on first access
        except Exception:  # noqa: BLE001, S112
            continue


@functools.cache
def import_ahead() -> threading.Thread:
    """`load_k8s_sdk` in a thread of its own, started once: the driver calls this as it is about to start the
    engine, and `build` waits for the same thread, so no module is imported by two threads at once."""
    thread = threading.Thread(target=load_k8s_sdk, name="import-ahead", daemon=True)
    thread.start()
    return thread


def build(
    spec: Spec,
    secrets: ResolvedSecrets,
    gateway_api: GatewayApiPlan,
    recording: Recording | None = None,
    layout: MeshLayout | None = None,
    upgrading: dict | None = None,
    adopted: frozenset[str] = frozenset(),
) -> None:
    """Declare the whole platform for `spec` (with its secrets and Gateway API plan, read before the engine started);
    `recording` (the fingerprint of all of these, and whether this operation read the cluster first) is exported, so
    the next `up` can tell that nothing changed (stacks/engine/unchanged.py). `layout` places the mesh's revisions and the
    teams on them (stacks/program/upgrade.py; by default one revision at `mesh.version`); `upgrading` records the phase of an
    upgrade in progress, so an interrupted upgrade resumes there. `adopted` names the namespaces someone else created
    (read before the engine too): `destroy` leaves them."""
    import_ahead().join()
    layout = layout or steady(spec, None)
    if adopted:
        pulumi.runtime.register_stack_transformation(lambda args: _adopt(args, adopted))
    charts = releases(spec, layout)
    target = ClusterTarget.of(spec)
    k8s_cluster = Cluster("cluster", target.cluster_args())
    on_cluster = pulumi.ResourceOptions(providers={"kubernetes": k8s_cluster.provider})
    crds = _gateway_api(gateway_api, on_cluster)
    control_plane: ControlPlane | LinkerdControlPlane
    if spec.mesh.linkerd:
        assert secrets.identity is not None  # read before the engine (stacks/engine/environment.py)
        control_plane = LinkerdControlPlane("linkerd", linkerd_args(spec, charts, secrets.identity, crds), on_cluster)
        if secrets.identity.made:  # kept for the next run, encrypted in the state, never in an output one reads
            pulumi.export(IDENTITY_OUTPUT, pulumi.Output.secret(secrets.identity.record()))
    else:
        control_plane = ControlPlane("control-plane", control_plane_args(charts, crds), on_cluster)
    after = tuple(control_plane.ready)
    if not spec.mesh.linkerd:  # Linkerd's meshed traffic is always mTLS; its policy is the namespaces' and apps'
        Sidecars("sidecars", sidecars_args(spec, after), on_cluster)
    paas = PaasLayer("paas", paas_args(spec, layout, secrets.app_env, after), on_cluster)
    team_namespaces = {name: ns for space in paas.teams.values() for name, ns in space.namespaces.items()}
    watched = monitoring_args(spec, charts, secrets.grafana_password, after, team_namespaces)
    monitoring = MonitoringStack("monitoring", watched, on_cluster)
    pulumi.export("kubeconfig", k8s_cluster.kubeconfig_path)
    pulumi.export("gatewayAddress", control_plane.gateway_address)
    pulumi.export("urls", monitoring.urls)
    pulumi.export("apps", {f"{t.team}/{t.name}": service_host(t.name, t.namespace) for t in watched.apps})
    pulumi.export("specHash", spec.content_hash)
    pulumi.export("environment", spec.name)
    pulumi.export("charts", chart_mirror(spec).describe())
    if upgrading:
        pulumi.export(RECORD_OUTPUT, upgrading)
    if recording:
        pulumi.export(INPUTS_OUTPUT, pulumi.Output.secret(recording.inputs))  # why a secret: stacks/engine/unchanged.py
        pulumi.export(REFRESHED_OUTPUT, recording.refreshed)
        if recording.read_at:
            pulumi.export(READ_AT_OUTPUT, recording.read_at)


def _gateway_api(plan: GatewayApiPlan, opts: pulumi.ResourceOptions) -> tuple[pulumi.Resource, ...]:
    """The Gateway API CRDs, unless the spec turns them off or someone else already installed them (left alone)."""
    if plan.foreign_owner:
        pulumi.log.info(f"Gateway API CRDs: left alone, already installed by {plan.foreign_owner}")
    if not plan.crds:
        return ()
    return (GatewayApi("gateway-api", GatewayApiArgs(plan.crds), opts),)


def _adopt(
    args: pulumi.ResourceTransformationArgs, adopted: frozenset[str]
) -> pulumi.ResourceTransformationResult | None:
    """A namespace someone else created (stacks/cluster/target.py `adopted_namespaces`) is annotated as adopted and kept by
    `destroy`: meshinstall manages its labels, never its existence."""
    meta = args.props.get("metadata")
    if args.type_ != "kubernetes:core/v1:Namespace" or meta is None or meta.name not in adopted:
        return None
    props = {
        **args.props,
        "metadata": k8s.meta.v1.ObjectMetaArgs(
            name=meta.name, labels=meta.labels, annotations={**(meta.annotations or {}), ADOPTED: "true"}
        ),
    }
    return pulumi.ResourceTransformationResult(
        props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(retain_on_delete=True))
    )
