"""`meshinstall render ENV --out DIR`: the objects `up` would apply, written for `kubectl apply` (`manifests`), Argo
CD (`argocd`) or Flux (`flux`), from no cluster and no state (stacks/program/rendered.py, stacks/program/gitops.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
from ..schemas.model import Spec
from ..stacks.program import gitops
from ..stacks.program.releases import releases
from ..stacks.program.rendered import Rendered, Stage, render

SECRETS_FILE = "secrets-to-create.yaml"
FORMATS = ("manifests", "argocd", "flux")


def write(
    spec: Spec, out: Path, form: str = "manifests", repo_url: str | None = None, repo_path: str | None = None
) -> Rendered:
    """Render `spec` into `out`. `manifests`: one folder per stage in apply order (`00-crds`, `01-namespaces`, a
    folder per chart, then the platform's objects). `argocd`: the folders without the charts' objects, and
    `applications/` (sync waves in that order) with `root.yaml`, the app of apps. `flux`: the same folders and
    `flux/` (HelmRepositories, HelmReleases), with `kustomizations.yaml`. The Secrets to create are listed beside."""
    if form == "argocd" and not repo_url:
        raise UsageError("--format argocd needs --repo-url: the Git repository Argo CD reads the rendered folders from")
    rendered = render(spec)
    path = (repo_path or str(out)).strip("/").removeprefix("./")
    charts = releases(spec).all()
    try:
        _clear(out)
        stages = rendered.stages if form == "manifests" else _without_charts(rendered, charts)
        for stage in stages:
            _dump(out / stage.name / "manifests.yaml", stage.objects)
        if form == "argocd":
            apps = gitops.argocd(rendered, charts, spec.name, repo_url or "", path)
            _dump(out / "root.yaml", [apps["root"]])
            _dump(out / "applications" / "applications.yaml", apps["applications"])
        if form == "flux":
            found = gitops.flux(rendered, charts, spec.name, path, "flux-system")
            _dump(out / "flux" / "sources.yaml", found["sources"])
            _dump(out / "flux" / "releases.yaml", found["releases"])
            _dump(out / "kustomizations.yaml", found["kustomizations"])
        (out / SECRETS_FILE).write_text(_secrets(spec, rendered), encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {err.filename or out}: {err.strerror}") from err
    return rendered


def _without_charts(rendered: Rendered, charts: tuple[Any, ...]) -> list[Stage]:
    """The stages a GitOps tool applies from Git: not the charts' (it installs them), nor their CRDs."""
    names = {release.name for release in charts}
    kept = []
    for stage in rendered.stages:
        if stage.name[3:] in names:
            continue
        objects = [o for o in stage.objects if o["metadata"]["name"] not in rendered.chart_crds]
        kept.append(Stage(stage.name, objects))
    return kept


def _clear(out: Path) -> None:
    """What an earlier render wrote goes first: a stage it had and this one does not would be applied too."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in (
        *(p for p in out.iterdir() if p.is_dir() and p.name[:2].isdigit()),
        out / "applications",
        out / "flux",
    ):
        shutil.rmtree(folder, ignore_errors=True)


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: the CRDs are megabytes (3 s in pure Python)


def _dump(path: Path, objects: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump_all(objects, Dumper=DUMPER, sort_keys=False, width=120), encoding="utf-8")


def _secrets(spec: Spec, rendered: Rendered) -> str:
    header = (
        f"# The Secrets `meshinstall up {spec.named}` writes, which render leaves to you: create each one, in its\n"
        "# namespace, from where the spec says its values are (env: a variable, file: a path from the spec's folder),\n"
        "# with your pipeline's secret store (a sealed or SOPS-encrypted Secret, an ExternalSecret, kubectl create\n"
        "# secret). No value is written here.\n"
    )
    entries = [{"namespace": s.namespace, "name": s.name, "type": s.type, "keys": s.keys} for s in rendered.secrets]
    return header + yaml.safe_dump({"secrets": entries}, sort_keys=False)
