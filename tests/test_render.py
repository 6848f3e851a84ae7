"""Issue 31: `meshinstall render` writes what `up` would apply, from no cluster and no state, with no secret value."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
import yaml
from conftest import ROOT, SECRETS

from meshinstall.cli.main import main
from meshinstall.stacks.program.images import full_name, pod_images, pod_spec

pytestmark = pytest.mark.needs_helm


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """`render dev` once for the module, in a copy of environments/, with no secret and no passphrase set."""
    folder = tmp_path_factory.mktemp("render")
    shutil.copytree(ROOT / "environments", folder / "environments", ignore=shutil.ignore_patterns(".meshinstall"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("HOME", str(folder / "home"))
        for name in ("MESHINSTALL_PASSPHRASE", *SECRETS):
            patch.delenv(name, raising=False)  # render reads no secret value, nor the state
        out = folder / "gitops"
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            assert main(["render", "dev", "--out", str(out)]) == 0
    return out, said.getvalue()


def objects(folder) -> list[dict]:
    return [doc for doc in yaml.safe_load_all((folder / "manifests.yaml").read_text()) if doc]


def test_render_writes_the_stages_in_apply_order(rendered):
    out, said = rendered
    stages = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert stages == [
        "00-crds",
        "01-namespaces",
        "02-istio-base",
        "03-istio-cni",
        "04-istiod",
        "05-istio-ingressgateway",
        "06-kube-prometheus-stack",
        "07-jaeger",
        "08-kiali",
        "09-platform",
    ]
    assert {o["kind"] for o in objects(out / "00-crds")} == {"CustomResourceDefinition"}
    assert {o["metadata"]["name"] for o in objects(out / "01-namespaces")} >= {"istio-system", "payments", "storefront"}
    assert "kubectl apply --server-side -f" in said


def test_render_writes_the_platforms_objects_as_up_declares_them(rendered):
    out, _ = rendered
    platform = {
        (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects(out / "09-platform")
    }
    canary = platform[("VirtualService", "payments", "checkout")]["spec"]["http"][0]["route"]
    assert [d["weight"] for d in canary] == [90, 10]
    assert ("Deployment", "payments", "checkout-canary") in platform
    assert ("PeerAuthentication", "istio-system", "default") in platform
    istiod = objects(out / "04-istiod")
    assert all(
        o["metadata"].get("namespace") == "istio-system" for o in istiod if o["kind"] in ("Deployment", "Service")
    )


def test_render_writes_no_secret_value_and_lists_the_secrets_to_create(rendered):
    out, _ = rendered
    everything = [o for folder in out.iterdir() if folder.is_dir() for o in objects(folder)]
    assert not [
        o
        for o in everything
        if o["kind"] == "Secret"
        and o["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "meshinstall"
    ]
    text = "".join(p.read_text() for p in out.rglob("*.yaml"))
    assert not [value for value in SECRETS.values() if value in text]
    assert "pulumi.com/" not in text  # the engine's annotations are the engine's
    secrets = yaml.safe_load((out / "secrets-to-create.yaml").read_text())["secrets"]
    assert {
        "namespace": "payments",
        "name": "checkout-env",
        "type": "Opaque",
        "keys": {"DB_PASSWORD": "env:CHECKOUT_DB_PASSWORD"},
    } in secrets


def test_render_of_a_linkerd_identity_that_meshinstall_makes_is_refused(isolated, capsys):
    assert main(["render", "linkerd", "--out", str(isolated / "out")]) == 2
    assert "render does not read" in capsys.readouterr().err


def test_images_lists_every_image_of_the_rendered_pods_and_those_made_at_run_time(rendered, isolated, capsys):
    out, _ = rendered
    pods = set()
    for folder in out.iterdir():
        if folder.is_dir():
            pods |= {full_name(i) for o in objects(folder) for i in pod_images(o) if i != "auto"}
    assert main(["images", "dev", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == sorted(set(listed))
    made_at_run_time = set(listed) - pods
    assert made_at_run_time == {
        "docker.io/istio/proxyv2:1.30.3",  # the sidecar (and istio-init) the injector adds
        "quay.io/prometheus/prometheus:v3.14.0-distroless",  # the operator's pods
        "quay.io/prometheus/alertmanager:v0.34.0",
        "quay.io/prometheus-operator/prometheus-config-reloader:v0.93.1",
    }
    assert pods <= set(listed)
    assert {"registry.example.com/payments/checkout:1.5.0", "docker.io/jaegertracing/jaeger:2.19.0"} <= set(listed)


def test_images_of_linkerd_name_its_proxy_and_envoy_gateways_proxies(isolated, capsys):
    assert main(["images", "linkerd"]) == 0
    listed = capsys.readouterr().out.split()
    assert "cr.l5d.io/linkerd/proxy:edge-26.8.3" in listed
    assert "docker.io/envoyproxy/envoy:distroless-v1.39.0" in listed and "docker.io/envoyproxy/gateway:v1.9.0" in listed
    assert not [i for i in listed if "istio" in i or "kiali" in i or "jaeger" in i]


@pytest.mark.parametrize("base", ["dev", "linkerd"])
def test_with_a_private_registry_every_platform_image_comes_from_it(isolated, capsys, base):
    registry = "registry.corp.example:5000/mirror"
    (isolated / "environments" / "mirrored.yaml").write_text(
        f"extends: {base}.yaml\nmetadata: {{name: mirrored}}\n"
        f'images: {{registry: "{registry}", pullSecrets: [mirror-pull], apps: true}}\n'
    )
    out = isolated / "gitops"
    assert main(["render", "mirrored", "--out", str(out)]) in (0, 2)
    if base == "linkerd":  # its identity is meshinstall's: render refuses it; images renders all the same
        assert not out.exists() or not any(out.iterdir())
    else:
        pods = [o for folder in out.iterdir() if folder.is_dir() for o in objects(folder) if pod_spec(o) is not None]
        used = {i for o in pods for i in pod_images(o) if i != "auto"}
        assert used and not [i for i in used if not i.startswith(f"{registry}/")]
        secrets = {s["name"] for o in pods for s in (pod_spec(o).get("imagePullSecrets") or [])}
        assert secrets == {"mirror-pull"}, "every platform pod and app pod pulls with the registry's Secret"
    capsys.readouterr()
    assert main(["images", "mirrored"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed and [i for i in listed if not i.startswith(f"{registry}/")] == []
    if base == "dev":
        assert f"{registry}/istio/proxyv2:1.30.3" in listed  # the sidecar the injector adds, and istio-init
        assert f"{registry}/jaegertracing/jaeger:2.19.0" in listed  # docker.io's path kept
    else:
        assert f"{registry}/linkerd/proxy:edge-26.8.3" in listed
        assert f"{registry}/envoyproxy/envoy:distroless-v1.39.0" in listed


def test_argocd_applications_sync_in_wave_order_and_ignore_what_controllers_own(isolated, capsys):
    out = isolated / "gitops"
    assert main(["render", "dev", "--out", str(out), "--format", "argocd"]) == 2  # where does Argo CD read Git?
    assert "--repo-url" in capsys.readouterr().err
    url = "https://git.example.com/platform.git"
    assert (
        main(["render", "dev", "--out", str(out), "--format", "argocd", "--repo-url", url, "--repo-path", "envs/dev"])
        == 0
    )
    apps = list(yaml.safe_load_all((out / "applications" / "applications.yaml").read_text()))
    waves = [int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for a in apps]
    assert waves == sorted(waves) == list(range(len(apps)))
    by_name = {a["metadata"]["name"]: a["spec"] for a in apps}
    assert by_name["dev-crds"]["source"] == {"repoURL": url, "path": "envs/dev/00-crds", "targetRevision": "HEAD"}
    istiod = by_name["dev-istiod"]
    assert (istiod["source"]["chart"], istiod["source"]["targetRevision"]) == ("istiod", "1.30.3")
    assert istiod["source"]["repoURL"] == "https://istio-release.storage.googleapis.com/charts"
    assert istiod["destination"]["namespace"] == "istio-system"
    drift = {(d["kind"], tuple(d["jqPathExpressions"])) for d in istiod["ignoreDifferences"]}
    assert (
        "ValidatingWebhookConfiguration",
        (".webhooks[]?.clientConfig.caBundle", ".webhooks[]?.failurePolicy"),
    ) in drift
    root = yaml.safe_load((out / "root.yaml").read_text())
    assert root["spec"]["source"]["path"] == "envs/dev/applications"
    crds = {o["metadata"]["name"] for o in objects(out / "00-crds")}
    assert crds and all(name.endswith("gateway.networking.k8s.io") for name in crds), "the charts install their own"
    assert not (out / "04-istiod").exists()


def test_flux_helm_releases_depend_on_each_other_in_install_order(isolated):
    out = isolated / "gitops"
    assert main(["render", "dev", "--out", str(out), "--format", "flux"]) == 0
    releases = list(yaml.safe_load_all((out / "flux" / "releases.yaml").read_text()))
    names = [r["metadata"]["name"] for r in releases]
    assert names[:3] == ["dev-istio-base", "dev-istio-cni", "dev-istiod"]
    assert [r["spec"].get("dependsOn") for r in releases[1:]] == [[{"name": n}] for n in names[:-1]]
    sources = {
        s["metadata"]["name"]: s["spec"]["url"] for s in yaml.safe_load_all((out / "flux" / "sources.yaml").read_text())
    }
    assert sources["istio"] == "https://istio-release.storage.googleapis.com/charts"
    kustomizations = list(yaml.safe_load_all((out / "kustomizations.yaml").read_text()))
    assert [k["spec"]["path"].rsplit("/", 1)[-1] for k in kustomizations] == [
        "00-crds",
        "01-namespaces",
        "flux",
        "09-platform",
    ]
    assert all(
        k["spec"]["dependsOn"] == [{"name": before["metadata"]["name"]}]
        for before, k in zip(kustomizations, kustomizations[1:], strict=False)
    )


def test_a_linkerd_render_writes_no_key_pair_the_charts_draw_and_lists_them(isolated, capsys):
    from meshinstall.stacks.program import identity

    anchor, _ = identity.make_anchor(365)
    (isolated / "environments" / "ca.crt").write_text(anchor)
    (isolated / "environments" / "lk.yaml").write_text(
        "extends: linkerd.yaml\nmetadata: {name: lk}\nmesh:\n  identity:\n"
        "    trustAnchor: {certificate: {fromFile: ca.crt}}\n    issuer: {certManager: true}\n"
    )
    out = isolated / "gitops"
    assert main(["render", "lk", "--out", str(out)]) == 0
    written = [o for folder in out.iterdir() if folder.is_dir() for o in objects(folder)]
    assert not [o for o in written if o["kind"] == "Secret" and "tls.key" in (o.get("data") or {})]
    assert "PRIVATE KEY-----" not in "".join(p.read_text() for p in out.rglob("*.yaml"))
    roots = next(
        o for o in written if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "linkerd-identity-trust-roots"
    )
    assert roots["data"]["ca-bundle.crt"] == anchor.strip()
    listed = {s["name"]: s for s in yaml.safe_load((out / "secrets-to-create.yaml").read_text())["secrets"]}
    injector = listed["linkerd-proxy-injector-k8s-tls"]
    assert injector["namespace"] == "linkerd" and "issued by cert-manager" in injector["keys"]["tls.key"]
    hooks = {o["metadata"]["name"]: o for o in written if o["kind"].endswith("WebhookConfiguration")}
    annotations = hooks["linkerd-proxy-injector-webhook-config"]["metadata"]["annotations"]
    assert annotations["cert-manager.io/inject-ca-from-secret"] == "linkerd/linkerd-proxy-injector-k8s-tls"
    assert {"tap-k8s-tls", "tap-injector-k8s-tls", "linkerd-sp-validator-k8s-tls"} <= set(listed)
    assert "linkerd-identity-issuer" not in listed  # cert-manager writes it
