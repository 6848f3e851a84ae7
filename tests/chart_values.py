"""Render official charts with Helm, and find the values meshinstall sets that a chart does not know."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from meshinstall.components.charts import HelmRelease

# Maps whose keys a chart passes on without listing them all in values.yaml: Istio's MeshConfig (read by istiod),
# Kiali's external_services (read by Kiali itself) and the gateway's pod labels (any Kubernetes label; its
# values.schema.json says `object`). Anything under them is the application's contract, not the chart's.
OPEN_MAPS = {
    "istiod": {("meshConfig",)},
    "gateway": {("labels",)},
    "kiali-server": {("external_services",)},
}
KUBE_VERSION = "1.34.0"


def _values_of(archive: tarfile.TarFile, prefix: str) -> dict[str, Any]:
    """The chart's default values (Istio's `_internal_defaults_do_not_set` unwrapped), subcharts' under their name."""
    member = archive.extractfile(f"{prefix}values.yaml")
    values = yaml.safe_load(member.read()) or {} if member else {}
    values = {**values.pop("_internal_defaults_do_not_set", {}), **values}
    for name in archive.getnames():
        rest = name[len(prefix) :] if name.startswith(prefix) else ""
        if rest.startswith("charts/") and rest.count("/") == 1 and rest.endswith(".tgz"):
            nested = tarfile.open(fileobj=io.BytesIO(archive.extractfile(name).read()))
            sub = nested.getnames()[0].split("/")[0]
            values[sub] = _merge(_values_of(nested, f"{sub}/"), values.get(sub) or {})
        elif rest.startswith("charts/") and rest.count("/") == 2 and rest.endswith("/values.yaml"):
            sub = rest.split("/")[1]
            values[sub] = _merge(_values_of(archive, f"{prefix}charts/{sub}/"), values.get(sub) or {})
    return values


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


@cache
def chart_defaults(archive_path: Path) -> dict[str, Any]:
    """Default values of a chart archive, with its vendored subcharts."""
    with tarfile.open(archive_path) as archive:
        top = archive.getnames()[0].split("/")[0]
        return _values_of(archive, f"{top}/")


def unknown_keys(chart: str, values: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Dotted paths of `values` that the chart's defaults do not have (below an empty or open map, anything goes)."""
    return sorted(_unknown(values, defaults, (), OPEN_MAPS.get(chart, set())))


def _unknown(
    values: dict[str, Any], defaults: Any, path: tuple[str, ...], open_maps: set[tuple[str, ...]]
) -> Iterator[str]:
    if path in open_maps or defaults is None or defaults == {}:
        return
    for key, value in values.items():
        here = path + (key,)
        if not isinstance(defaults, dict) or key not in defaults:
            yield ".".join(here)
        elif isinstance(value, dict):
            yield from _unknown(value, defaults[key], here, open_maps)


def helm() -> str:
    """The toolchain's helm."""
    found = shutil.which("helm")
    assert found, (
        "the render tests need helm from the toolchain (toolchain/install.sh; scripts/test.sh puts it on PATH): mark them needs_helm"
    )
    return found


@cache
def _render(name: str, archive: str, namespace: str, values_json: str) -> tuple[dict[str, Any], ...]:
    command = [
        helm(),
        "template",
        name,
        archive,
        "--namespace",
        namespace,
        "--kube-version",
        KUBE_VERSION,
        "--values",
        "-",
    ]
    done = subprocess.run(command, input=values_json, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RenderError(done.stderr.strip())
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


class RenderError(Exception):
    """Helm refused the values (a failing template or the chart's values.schema.json)."""


def render(release: HelmRelease) -> tuple[dict[str, Any], ...]:
    """Every object `helm template` makes of `release` with meshinstall's values."""
    archive = release.chart.local_path()
    assert archive is not None, f"{release.chart.mirror_path} is not in the chart mirror"
    return _render(release.name, str(archive), release.namespace, json.dumps(release.values, sort_keys=True))


def objects(rendered: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    """The rendered objects of one kind."""
    return [doc for doc in rendered if doc.get("kind") == kind]
