"""What `render` writes for a GitOps tool: Argo CD `Application`s with sync waves, or Flux `HelmRelease`s with
`dependsOn` and `Kustomization`s, in the order `up` installs. The charts are installed by the tool from their
official repositories at meshinstall's pins, with `up`'s values; the CRDs, the namespaces and meshinstall's own
objects are the rendered folders, read from Git."""

from __future__ import annotations

from typing import Any

from ...components.charts import HelmRelease
from .rendered import Rendered

ARGOCD_NAMESPACE = "argocd"
FLUX_NAMESPACE = "flux-system"
IN_CLUSTER = "https://kubernetes.default.svc"

# Fields controllers own after install, which a GitOps tool would otherwise show out of sync for ever: istiod sets
# its validating webhook's failurePolicy once it serves (istio/istio#57643, argoproj/argo-cd#25447), and webhook
# servers write their caBundle.
WEBHOOK_DRIFT = [
    {
        "group": "admissionregistration.k8s.io",
        "kind": kind,
        "jqPathExpressions": [".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"],
    }
    for kind in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
]


def _helm_source(release: HelmRelease) -> dict[str, Any]:
    repository = release.chart.repository
    return {
        "repoURL": repository.removeprefix("oci://"),  # Argo CD names an OCI registry without the scheme
        "chart": release.chart.name,
        "targetRevision": release.chart.version,
        "helm": {"releaseName": release.name, "valuesObject": release.values},
    }


def _application(name: str, wave: int, source: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    destination = {"server": IN_CLUSTER, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": ARGOCD_NAMESPACE,
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave)},
        },
        "spec": {
            "project": "default",
            "source": source,
            "destination": destination,
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": ["ServerSideApply=true"]},
            "ignoreDifferences": WEBHOOK_DRIFT,
        },
    }


def argocd(rendered: Rendered, releases: tuple[HelmRelease, ...], env: str, repo_url: str, path: str) -> dict[str, Any]:
    """The Applications, one per stage in sync-wave order (the charts' from their repositories), and the root
    Application (app of apps) that syncs them from `path/applications` in `repo_url`."""
    charts = {release.name: release for release in releases}
    apps = []
    for wave, stage in enumerate(rendered.stages):
        release = charts.get(stage.name[3:])
        if release is not None:
            apps.append(_application(f"{env}-{release.name}", wave, _helm_source(release), release.namespace))
        else:
            source = {"repoURL": repo_url, "path": f"{path}/{stage.name}", "targetRevision": "HEAD"}
            apps.append(_application(f"{env}-{stage.name[3:]}", wave, source, None))
    root = _application(
        f"{env}-meshinstall", 0, {"repoURL": repo_url, "path": f"{path}/applications", "targetRevision": "HEAD"}, None
    )
    root["metadata"].pop("annotations")
    return {"root": root, "applications": apps}


def flux(rendered: Rendered, releases: tuple[HelmRelease, ...], env: str, path: str, source: str) -> dict[str, Any]:
    """HelmRepositories and HelmReleases (each `dependsOn` the one installed before it), and the Kustomizations
    that apply the folders from GitRepository `source`: CRDs, then namespaces, then the charts, then the platform."""
    repositories: dict[str, dict[str, Any]] = {}
    helm_releases = []
    previous = None
    for release in releases:
        url = release.chart.repository
        name = _repository_name(url)
        repositories[name] = {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "HelmRepository",
            "metadata": {"name": name, "namespace": FLUX_NAMESPACE},
            "spec": {"url": url, "interval": "1h", **({"type": "oci"} if url.startswith("oci://") else {})},
        }
        helm_release = {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": f"{env}-{release.name}", "namespace": FLUX_NAMESPACE},
            "spec": {
                "interval": "10m",
                "releaseName": release.name,
                "targetNamespace": release.namespace,
                "storageNamespace": release.namespace,
                "chart": {
                    "spec": {
                        "chart": release.chart.name,
                        "version": release.chart.version,
                        "sourceRef": {"kind": "HelmRepository", "name": name, "namespace": FLUX_NAMESPACE},
                    }
                },
                "install": {"crds": "CreateReplace"},
                "upgrade": {"crds": "CreateReplace"},
                "values": release.values,
            },
        }
        if previous:
            helm_release["spec"]["dependsOn"] = [{"name": previous}]
        previous = helm_release["metadata"]["name"]
        helm_releases.append(helm_release)
    folders = [s.name for s in rendered.stages if s.name[3:] not in {r.name for r in releases}]
    kustomizations, after = [], None
    for folder in folders[:2] + ["charts"] + folders[2:]:
        kustomization = {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": f"{env}-{folder}", "namespace": FLUX_NAMESPACE},
            "spec": {
                "interval": "10m",
                "path": f"./{path}/{'flux' if folder == 'charts' else folder}",
                "prune": True,
                "wait": True,
                "sourceRef": {"kind": "GitRepository", "name": source},
            },
        }
        if after:
            kustomization["spec"]["dependsOn"] = [{"name": after}]
        after = kustomization["metadata"]["name"]
        kustomizations.append(kustomization)
    return {"sources": list(repositories.values()), "releases": helm_releases, "kustomizations": kustomizations}


REPOSITORY_NAMES = {
    "istio-release.storage.googleapis.com": "istio",
    "prometheus-community.github.io": "prometheus-community",
    "kiali.org": "kiali",
    "jaegertracing.github.io": "jaegertracing",
    "helm.linkerd.io": "linkerd-edge",
    "docker.io": "envoyproxy",
}


def _repository_name(url: str) -> str:
    host = url.split("://", 1)[-1].split("/")[0]
    return REPOSITORY_NAMES.get(host, host.replace(".", "-"))
