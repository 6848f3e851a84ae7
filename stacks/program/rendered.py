"""What `up` would apply, as Kubernetes manifests: the charts rendered by `helm template` with the values `up` gives
them, and the program's own objects from its offline run (stacks/program/offline.py). No cluster is read and no
state is opened; no secret value is read.

A Secret of the program (Grafana's admin password, an app's secret environment, Linkerd's issuer) is never written:
it becomes a `SecretToCreate` that names its keys and where each value comes from, for the pipeline to create from
its own secret store. The values stay where the spec says they are; meshinstall assumes no SOPS key and no External
Secrets Operator (README, "GitOps")."""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...components import OWNERSHIP, SKIP_AWAIT
from ...components.charts import ChartSource, HelmRelease
from ...components.manifests.linkerd import WEBHOOK_SECRETS, gitops_webhook_values
from ...components.manifests.registry import merged
from ...errors import UsageError
from ...schemas.model import SecretRef, Spec
from ..engine import toolchain
from ..state.secrets import ResolvedSecrets
from . import identity
from .gateway_api import GatewayApiPlan, release_text
from .releases import gateway_api_source, releases

# annotations that steer Pulumi's provider, meaningless to anyone else
ENGINE_ANNOTATIONS = {*OWNERSHIP, *SKIP_AWAIT}
NOT_OBJECTS = ("kubernetes:helm.sh/", "pulumi:providers:")


@dataclass(frozen=True)
class SecretToCreate:
    """A Secret `up` would write, for the pipeline to create: its keys and where each value comes from."""

    namespace: str
    name: str
    type: str
    keys: dict[str, str]  # key -> its source (`env:VARIABLE`, `file:path`, or what makes it)


@dataclass(frozen=True)
class Stage:
    """Objects applied together, in order: the CRDs, the namespaces, a chart's objects, then the platform's own."""

    name: str  # "00-crds", "01-namespaces", "02-istio-base", ...
    objects: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    stages: list[Stage]
    secrets: list[SecretToCreate]
    chart_crds: frozenset[str] = frozenset()  # the CRDs a chart brings (a GitOps tool installs them with the chart)

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [o for stage in self.stages for o in stage.objects]


def render(spec: Spec, any_identity: bool = False) -> Rendered:
    """Every object `up` of `spec` would apply, in apply order, and the Secrets to create beside them.
    `any_identity`: a Linkerd identity meshinstall makes is made for this rendering (what is rendered is then not to
    be applied: `images` reads it)."""
    from . import offline, program

    if spec.mesh.linkerd and any_identity and spec.mesh.identity.trust_anchor.certificate is None:
        linkerd_identity = identity.made(1, 1) if not spec.mesh.identity.issuer.cert_manager else None
    else:
        linkerd_identity = _given_identity(spec)
    source = gateway_api_source(spec)
    plan = GatewayApiPlan(release_text(source)) if source else GatewayApiPlan()
    placeholders = ResolvedSecrets(
        grafana_password="" if spec.monitoring.grafana.admin_password else None,
        app_env={(t.name, a.name): dict.fromkeys(a.secret_env, "") for t in spec.paas.teams for a in t.apps},
        identity=linkerd_identity,
    )
    registered = offline.run(lambda: program.build(spec, placeholders, plan), stack=spec.name)
    own, secrets = [], []
    for resource in registered.values():
        if not resource.type.startswith("kubernetes:") or resource.type.startswith(NOT_OBJECTS):
            continue
        manifest = _manifest(resource.inputs)
        if manifest["kind"] == "Secret":
            secrets.append(_to_create(manifest, spec))
        else:
            own.append(manifest)
    chosen = tuple(_for_gitops(release) for release in releases(spec).all())
    version = spec.cluster.kubernetes_version
    with ThreadPoolExecutor(max_workers=4) as pool:  # each is a `helm template` process
        charts = list(zip(chosen, pool.map(lambda release: chart_objects(release, version), chosen), strict=True))
    for _, found in charts:  # and should a chart draw a key pair all the same, it is not written
        keyed = [o for o in found if o["kind"] == "Secret" and "tls.key" in (o.get("data") or {})]
        found[:] = [o for o in found if o not in keyed]
    secrets += [
        _issued(secret) for release in chosen for secret in WEBHOOK_SECRETS.get(release.chart.name, {}).values()
    ]
    chart_crds = {
        o["metadata"]["name"] for _, found in charts for o in found if o["kind"] == "CustomResourceDefinition"
    }
    return Rendered(_staged(own, charts), secrets, frozenset(chart_crds))


def _given_identity(spec: Spec) -> identity.LinkerdIdentity | None:
    """Linkerd's identity as the spec gives it: render keeps no state, so an identity meshinstall makes (and keeps
    in its state) cannot be rendered."""
    if not spec.mesh.linkerd:
        return None
    anchor = spec.mesh.identity.trust_anchor
    if anchor.certificate is None or not (
        spec.mesh.identity.issuer.certificate or spec.mesh.identity.issuer.cert_manager
    ):
        raise UsageError(
            f"{spec.name}'s Linkerd identity is made by meshinstall and kept in its state, which render does not read: "
            "give mesh.identity.trustAnchor.certificate and the issuer by reference, or set issuer.certManager: true"
        )
    from ..state.secrets import read_one

    bundle = read_one(spec, anchor.certificate, "$.mesh.identity.trustAnchor.certificate")  # a certificate: public
    return identity.LinkerdIdentity((bundle,), made=False)


def _manifest(inputs: dict[str, Any]) -> dict[str, Any]:
    """A registered object's inputs as the manifest the API server would receive, without the engine's annotations."""
    manifest = json.loads(json.dumps(inputs, default=str))
    meta = manifest.setdefault("metadata", {})
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in ENGINE_ANNOTATIONS}
    if notes:
        meta["annotations"] = notes
    else:
        meta.pop("annotations", None)
    return {"apiVersion": manifest.pop("apiVersion"), "kind": manifest.pop("kind"), **manifest}


def _to_create(secret: dict[str, Any], spec: Spec) -> SecretToCreate:
    meta = secret["metadata"]
    keys = sorted({*(_opened(secret.get("stringData"))), *(_opened(secret.get("data")))})
    sources = _secret_sources(spec, meta.get("namespace", ""), meta["name"])
    return SecretToCreate(
        meta.get("namespace", ""),
        meta["name"],
        secret.get("type", "Opaque"),
        {key: sources.get(key, "meshinstall's own value, not a secret of the spec") for key in keys},
    )


def _for_gitops(release: HelmRelease) -> HelmRelease:
    """A release as a render writes it: Linkerd's webhook certificates left to cert-manager (the charts would draw a
    key pair at each rendering and write it in plain text)."""
    webhooks = gitops_webhook_values(release.chart.name)
    return dataclasses.replace(release, values=merged(release.values, webhooks)) if webhooks else release


def _issued(secret: str) -> SecretToCreate:
    """A webhook's TLS Secret, for cert-manager to issue."""
    namespace, name = secret.split("/")
    service = name.removesuffix("-k8s-tls")
    why = f"issued by cert-manager for {service}.{namespace}.svc; its CA injector copies ca.crt into the webhook"
    return SecretToCreate(namespace, name, "kubernetes.io/tls", dict.fromkeys(("ca.crt", "tls.crt", "tls.key"), why))


def _opened(value: Any) -> dict[str, Any]:
    """A secret's data, inside Pulumi's secret envelope or not."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return value["value"] or {}
    return value or {}


def _secret_sources(spec: Spec, namespace: str, name: str) -> dict[str, str]:
    """Where each key of one of the program's Secrets comes from, as the spec says."""
    found: dict[str, str] = {}
    grafana = spec.monitoring.grafana.admin_password
    if name == "grafana-admin" and grafana:
        found["admin-password"] = grafana.describe()
    identity_spec = spec.mesh.identity.issuer
    if name == "linkerd-identity-issuer" and identity_spec.certificate and identity_spec.key:
        found |= {
            "tls.crt": identity_spec.certificate.describe(),
            "tls.key": identity_spec.key.describe(),
            "ca.crt": _describe(spec.mesh.identity.trust_anchor.certificate),
        }
    for team in spec.paas.teams:
        for app in team.apps:
            if namespace == team.app_namespace and name == f"{app.name}-env":
                found |= {key: ref.describe() for key, ref in app.secret_env.items()}
    return found


def _describe(ref: SecretRef | None) -> str:
    return ref.describe() if ref else "meshinstall"


def chart_objects(release: HelmRelease, kubernetes_version: str) -> list[dict[str, Any]]:
    """`helm template` of one release with the values `up` gives it, its CRDs included; its test hooks left out."""
    found = _template(release.name, release.chart, release.namespace, json.dumps(release.values), kubernetes_version)
    return json.loads(found)  # a copy: the caller may change it


@functools.lru_cache(maxsize=64)  # `render` then `images` of the same environment run helm once per release
def _template(name: str, chart: ChartSource, namespace: str, values: str, kubernetes_version: str) -> str:
    release = HelmRelease(name, chart, namespace, json.loads(values))
    source = release.chart.release_args()
    command = [
        str(toolchain.find("helm") or "helm"),
        "template",
        release.name,
        source["chart"],
        "--namespace",
        release.namespace,
        "--kube-version",
        f"{kubernetes_version}.0",
        "--include-crds",
        "--values",
        "-",
    ]
    if "version" in source:
        command += ["--version", str(source["version"])]
    if "repository_opts" in source:
        command += ["--repo", source["repository_opts"].repo]
    try:
        done = subprocess.run(
            command, input=json.dumps(release.values), capture_output=True, text=True, timeout=300, check=False
        )
    except FileNotFoundError as err:
        raise UsageError("render needs helm from the toolchain (toolchain/install.sh puts it on PATH)") from err
    if done.returncode != 0:
        raise UsageError(f"helm template of {release.name} failed: {done.stderr.strip()}")
    return json.dumps(
        [
            _in_namespace(doc, release.namespace)
            for doc in yaml.load_all(done.stdout, Loader=_Loader)
            if doc and (doc.get("metadata", {}).get("annotations") or {}).get("helm.sh/hook") != "test"
        ],
        default=str,
    )


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml: the CRDs are megabytes
    """YAML 1.1 reads a bare `=` (an enum value of some CRDs) as the `value` type, which PyYAML cannot build."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


# Kinds without a namespace, as the charts and the program use them (a chart leaves namespaced objects' namespace
# to `helm install --namespace`; a manifest applied by another tool must say it)
CLUSTER_KINDS = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "GatewayClass",
    "PriorityClass",
    "StorageClass",
    "PodSecurityPolicy",
}


def _in_namespace(doc: dict[str, Any], namespace: str) -> dict[str, Any]:
    if doc.get("kind") not in CLUSTER_KINDS:
        doc.setdefault("metadata", {}).setdefault("namespace", namespace)
    return doc


def _staged(own: list[dict[str, Any]], charts: list[tuple[HelmRelease, list[dict[str, Any]]]]) -> list[Stage]:
    """CRDs first, then namespaces, then each chart in install order, then the platform's own objects."""
    everything = own + [o for _, objects in charts for o in objects]
    crds = Stage("00-crds", [o for o in everything if o["kind"] == "CustomResourceDefinition"])
    namespaces = Stage("01-namespaces", [o for o in own if o["kind"] == "Namespace"])
    stages = [crds, namespaces]
    for i, (release, objects) in enumerate(charts):
        rest = [o for o in objects if o["kind"] not in ("CustomResourceDefinition", "Namespace")]
        stages.append(Stage(f"{i + 2:02d}-{release.name}", rest))
    platform = [o for o in own if o["kind"] not in ("CustomResourceDefinition", "Namespace")]
    stages.append(Stage(f"{len(charts) + 2:02d}-platform", platform))
    return stages
