"""`meshinstall render ENV --out DIR`: the objects `up` would apply, written for a GitOps tool or `kubectl apply`,
from no cluster and no state (stacks/program/rendered.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import UsageError
from ..schemas.model import Spec
from ..stacks.program.rendered import Rendered, render

SECRETS_FILE = "secrets-to-create.yaml"


def write(spec: Spec, out: Path) -> Rendered:
    """Render `spec` into `out`: one folder per stage in apply order (`00-crds`, `01-namespaces`, a folder per chart,
    then the platform's objects), each with its `manifests.yaml`, and the Secrets to create beside them."""
    rendered = render(spec)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if any(out.iterdir()):
            stale = [p for p in out.iterdir() if p.is_dir() and p.name[:2].isdigit()]
            for folder in stale:  # a stage of an earlier render that this one does not have would be applied too
                for file in folder.glob("*.yaml"):
                    file.unlink()
                folder.rmdir()
        for stage in rendered.stages:
            folder = out / stage.name
            folder.mkdir(exist_ok=True)
            (folder / "manifests.yaml").write_text(_yaml(stage.objects), encoding="utf-8")
        (out / SECRETS_FILE).write_text(_secrets(spec, rendered), encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write {err.filename or out}: {err.strerror}") from err
    return rendered


def _yaml(objects: list[dict]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False, width=120)


def _secrets(spec: Spec, rendered: Rendered) -> str:
    header = (
        f"# The Secrets `meshinstall up {spec.named}` writes, which render leaves to you: create each one, in its\n"
        "# namespace, from where the spec says its values are (env: a variable, file: a path from the spec's folder),\n"
        "# with your pipeline's secret store (a sealed or SOPS-encrypted Secret, an ExternalSecret, kubectl create\n"
        "# secret). No value is written here.\n"
    )
    entries = [{"namespace": s.namespace, "name": s.name, "type": s.type, "keys": s.keys} for s in rendered.secrets]
    return header + yaml.safe_dump({"secrets": entries}, sort_keys=False)
