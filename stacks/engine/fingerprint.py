"""The fingerprint of everything the program reads: the first of the two questions that tell whether `up` has
anything to do (stacks/engine/unchanged.py asks the second)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import __version__
from ...components.manifests.team_workloads import TeamWorkloadsArgs
from ...schemas.model import Spec
from ..cluster import kube
from ..cluster.target import ClusterTarget
from ..program.gateway_api import GatewayApiPlan
from ..program.releases import chart_mirror, releases
from ..program.upgrade import MeshLayout
from ..state.secrets import ResolvedSecrets
from . import toolchain

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def inputs_fingerprint(
    spec: Spec,
    secrets: ResolvedSecrets,
    gateway_api: GatewayApiPlan,
    target: ClusterTarget,
    key: str,
    layout: MeshLayout | None = None,
    record: Mapping[str, Any] | None = None,
    adopted: frozenset[str] = frozenset(),
) -> str:
    """HMACs (keyed by the state passphrase, so secret values cannot be guessed from them) of what the program reads,
    one per kind of input (`spec=…;charts=…;secret grafana=…`), so that a change can be named (`changed_inputs`)."""
    parts = {
        "meshinstall": (__version__, _code()),
        "spec": (
            spec.content_hash,
            repr(gateway_api),
            repr(layout),
            json.dumps(record, sort_keys=True),
            repr(sorted(adopted)),
            repr(releases(spec, layout)),
        ),
        "charts": (chart_mirror(spec).describe(), *_chart_files(spec)),
        "engine": tuple(_engine_binaries()),
        "cluster": tuple(_cluster(target)),
        "secret Grafana's admin password": (repr(secrets.grafana_password),),
        **({"secret Linkerd's identity": (secrets.identity.record(),)} if secrets.identity else {}),
        **{
            f"secret of {team}/{app}": (repr(sorted(values.items())),)
            for (team, app), values in secrets.app_env.items()
        },
    }
    return ";".join(f"{name}={_hmac(key, values)}" for name, values in parts.items())


def changed_inputs(recorded: str | None, now: str) -> list[str]:
    """The kinds of input (`spec`, `charts`, `secret of payments/checkout`, …) whose fingerprint differs from the one
    the last update recorded; every kind when it recorded none, or one of a meshinstall before they were named."""

    def parts(fingerprint: str | None) -> dict[str, str]:
        return dict(part.split("=", 1) for part in (fingerprint or "").split(";") if "=" in part)

    before, after = parts(recorded), parts(now)
    if not before:
        return ["meshinstall"] if recorded else list(after)
    return [name for name in after if before.get(name) != after[name]] + [name for name in before if name not in after]


def _hmac(key: str, values: tuple[str, ...]) -> str:
    digest = hmac.new(key.encode(), digestmod=hashlib.sha256)
    for value in values:
        digest.update(value.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:20]


def subpackages(root: Path = PACKAGE_ROOT) -> tuple[str, ...]:
    """The folders under `root` that are meshinstall's subpackages (those with an `__init__.py`). In a checkout
    installed in editable mode `root` is the repository, whose other folders (environments/ with its state, .git,
    docs, tests) are not the package's code."""
    return tuple(sorted(init.parent.name for init in root.glob("*/__init__.py")))


def _code(root: Path = PACKAGE_ROOT) -> str:
    """meshinstall's own files (a changed component is a changed program)."""
    digest = hashlib.sha256()
    files = [*root.glob("*.py"), *(path for package in subpackages(root) for path in (root / package).rglob("*"))]
    for path in sorted(files):
        if path.suffix in (".py", ".json", ".yaml") and path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def _chart_files(spec: Spec) -> list[str]:
    mirror = chart_mirror(spec).path
    if not mirror or not Path(mirror).is_dir():
        return []
    return [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(Path(mirror).rglob("*.tgz"))]


def _engine_binaries() -> list[str]:
    return [str((toolchain.find(tool) or Path(tool)).resolve()) for tool in toolchain.REQUIRED]


def _cluster(target: ClusterTarget) -> list[str]:
    """Which cluster, and for an existing one its kubeconfig's content (a simulated cluster's is written by its
    first `up`, after this fingerprint was taken, and stays the same over restarts)."""
    path = Path(target.kubeconfig)
    content = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not target.simulated else ""
    return [target.kubeconfig, target.context or "", content]


def team_fingerprint(key: str, args: TeamWorkloadsArgs, secrets: ResolvedSecrets, target: ClusterTarget) -> str:
    """`inputs_fingerprint` for a team's own stack: what its program reads is the team's workloads (their arguments,
    which name every object and value it declares), their secrets, and the cluster it reaches (its API server: the
    identity that applies, the team's or the platform's, is not part of it)."""
    digest = hmac.new(key.encode(), digestmod=hashlib.sha256)
    server = kube.server_of(target.kubeconfig, target.context)
    for part in (__version__, _code(), repr(args), repr(secrets), *_engine_binaries(), server):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
