"""What a check is, what it returns, and what it may look at."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..schemas.model import Spec
from ..stacks.cluster import kube

if TYPE_CHECKING:
    from ..stacks.cluster.target import ClusterTarget


class Status(str, enum.Enum):
    """The outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Result:
    """What a check found: the object and field it looked at and, on failure, what to do."""

    check_id: str
    title: str
    group: str
    status: Status
    target: str
    message: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.check_id,
            "title": self.title,
            "group": self.group,
            "status": self.status.value,
            "target": self.target,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class Skip:
    """A check's result when it is not run: why, and what it would have looked at (empty: the check's own target)."""

    reason: str
    target: str = ""


NO_CONTAINERS = "simulated cluster has no containers"
SPEC_INVALID = Skip("the spec is invalid (see MI001)", "spec")

GROUPS = {"0": "pre-flight", "1": "control plane", "2": "sidecars and policy", "3": "monitoring", "4": "paas"}


@dataclass
class Context:
    """What checks may read: the spec, a testinfra host for commands, and the Kubernetes API as JSON (stacks/cluster/kube.py)."""

    spec: Spec | None
    spec_path: Path
    spec_problems: list[Any] = field(default_factory=list)
    host_spec: str = "local://"
    phase: str = "doctor"
    given_layout: Any = None  # the mesh layout to check (a phase of an upgrade); by default the environment's own
    # objects listed so far, by (API version, namespace, plural): one LIST per namespace and kind, not a GET per app
    _listed: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict, repr=False)

    @cached_property
    def layout(self) -> Any:
        """The mesh's revisions and the revision of each team (stacks/program/upgrade.py): given, else what the state records
        (the current phase of an upgrade in progress, or the steady layout), else the spec's."""
        if self.given_layout is not None:
            return self.given_layout
        from ..stacks.program import upgrade
        from ..stacks.state.places import saved_record

        state = saved_record(self.spec)
        return upgrade.layout_from(self.spec, state) if state else upgrade.steady(self.spec, None)

    @cached_property
    def host(self) -> Any:
        """A testinfra host (local by default) that runs commands and reads files."""
        import testinfra

        return testinfra.get_host(self.host_spec)

    @cached_property
    def target(self) -> ClusterTarget | None:
        """Which cluster the environment runs on and how to reach it (None when the spec is invalid)."""
        from ..stacks.cluster.target import ClusterTarget

        return ClusterTarget.of(self.spec) if self.spec else None

    @property
    def simulated(self) -> bool:
        """Whether the environment's cluster is a simulated one."""
        return bool(self.target and self.target.simulated)

    @cached_property
    def containerless(self) -> bool:
        """Whether no container runs on the cluster: a simulated one, or an existing one whose nodes are all KWOK's
        (annotated `kwok.x-k8s.io/node`), such as a simulated cluster started by someone else."""
        if self.simulated:
            return True
        try:
            nodes = kube.list_metadata(self.api, "v1", "nodes")
        except Exception:  # noqa: BLE001 (unreachable: MI005 says so)
            return False
        return bool(nodes) and all("kwok.x-k8s.io/node" in (n["metadata"].get("annotations") or {}) for n in nodes)

    @property
    def local_cluster(self) -> Any:
        """The simulated cluster's control plane (None for an existing cluster)."""
        return self.target.control_plane() if self.target else None

    @cached_property
    def cluster_not_running(self) -> bool:
        """A simulated cluster that `up` has not started (yet, or again): there is nothing to ask. Asked once per run
        (each asking is an HTTPS request to the API server)."""
        return self.simulated and not self.local_cluster.running()

    @property
    def kubeconfig(self) -> tuple[str, str | None]:
        """The kubeconfig path and context of the environment's cluster."""
        assert self.target is not None
        return self.target.kubeconfig, self.target.context

    @cached_property
    def api(self) -> Any:
        """A client of the environment's cluster (stacks/cluster/kube.py; raises when it cannot be configured)."""
        return kube.connect(*self.kubeconfig)

    def get(self, path: str) -> dict[str, Any] | None:
        """An object by its API path (`/api/v1/namespaces/shop`), as JSON; None when it does not exist."""
        return kube.get(self.api, path)

    def items(
        self, api_version: str, plural: str, namespace: str | None = None, selector: str = ""
    ) -> list[dict[str, Any]]:
        """Every object of a kind (with `selector`, those it selects), as JSON; [] when the kind is not served."""
        return kube.items(self.api, api_version, plural, selector=selector, namespace=namespace)

    def _named(self, api_version: str, namespace: str, plural: str) -> dict[str, dict[str, Any]]:
        """The namespace's objects of a kind by name, listed once for the run."""
        key = (api_version, namespace, plural)
        if key not in self._listed:
            self._listed[key] = {o["metadata"]["name"]: o for o in self.items(api_version, plural, namespace)}
        return self._listed[key]

    def deployment(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A Deployment with its status, or None (the namespace's Deployments are listed once for the run)."""
        return self._named("apps/v1", namespace, "deployments").get(name)

    def endpoint_slices(self, namespace: str, service: str) -> list[dict[str, Any]]:
        """The EndpointSlices of a Service (the namespace's slices are listed once for the run)."""
        return [
            s
            for s in self._named("discovery.k8s.io/v1", namespace, "endpointslices").values()
            if (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name") == service
        ]

    def custom_object(
        self, group: str, namespace: str, plural: str, name: str, version: str = "v1"
    ) -> dict[str, Any] | None:
        """A custom object (`networking.istio.io`, `monitoring.coreos.com`, ...), or None when it does not exist.
        The namespace's objects of that kind are listed once for the run (verify at 100 apps made 300 GETs)."""
        return self._named(f"{group}/{version}", namespace, plural).get(name)


class Check:
    """A named check: subclasses set the id, title and severity, declare their traits, and implement `inspect`."""

    id: ClassVar[str]
    title: ClassVar[str]
    phase: ClassVar[str]  # "doctor" (before an install) or "verify" (after it)
    severity: ClassVar[str] = "error"  # an "error" failure fails the run; a "warning" one only warns
    # What the check looks at, for results made outside `inspect` (default: its title).
    looks_at: ClassVar[str] = ""
    # Traits, acted on by `run` and the runner (checks/runner.py) rather than written out in each check:
    needs_spec: ClassVar[bool] = True  # skipped (SPEC_INVALID) while the spec is invalid
    needs_cluster: ClassVar[bool] = True  # reads the cluster: the runner runs these one after the other, in id order
    # On a simulated cluster that `up` has not started (yet, or again) there is nothing to ask: skipped so, with
    # `{spec...}` fields in the reason filled from the spec.
    needs_running_cluster: ClassVar[Skip | None] = None
    # Why the check needs running containers (a sidecar, a proxy, an operator): on a simulated cluster (or one of KWOK
    # nodes) it is then skipped with that reason, never passed.
    mesh: ClassVar[str] = ""  # a check of one mesh's objects ("istio", "linkerd"): skipped with the other
    needs_containers: ClassVar[str] = ""
    # A failure stops the checks that have not started yet: each is skipped so (the spec's, the cluster's).
    fatal: ClassVar[Skip | None] = None
    gates: ClassVar[tuple[str, ...]] = ()  # the other phases the check runs in, as their gate (MI005 in verify)

    @classmethod
    def runs_in(cls, phase: str) -> bool:
        """Whether the check runs in `phase`: its own, or one it gates."""
        return cls.phase == phase or phase in cls.gates

    @property
    def group(self) -> str:
        return GROUPS[self.id[2]]

    def result(self, status: Status, target: str, message: str = "", hint: str = "") -> Result:
        if status is Status.FAILED and self.severity == "warning":
            status = Status.WARNING
        return Result(self.id, self.title, self.group, status, target, message, hint)

    def passed(self, target: str, message: str = "") -> Result:
        return self.result(Status.PASSED, target, message)

    def failed(self, target: str, message: str, hint: str) -> Result:
        return self.result(Status.FAILED, target, message, hint)

    def skipped(self, target: str, reason: str) -> Result:
        return self.result(Status.SKIPPED, target, reason)

    def skipped_for(self, why: Skip) -> Result:
        """The check skipped for a trait the context lacks, or by a fatal check's failure."""
        return self.skipped(why.target or self.target, why.reason)

    def unmet(self, ctx: Context) -> Skip | None:
        """Why the check cannot run in `ctx`, from its traits (the first one unmet); None when it can."""
        if self.needs_spec and ctx.spec is None:
            return SPEC_INVALID
        if self.mesh and ctx.spec is not None and ctx.spec.mesh.provider != self.mesh:
            return Skip(f"{self.mesh.capitalize()}'s objects: this environment runs {ctx.spec.mesh.provider}")
        if self.needs_running_cluster and ctx.cluster_not_running:
            return replace(self.needs_running_cluster, reason=self.needs_running_cluster.reason.format(spec=ctx.spec))
        if self.needs_containers and ctx.containerless:
            return Skip(f"{NO_CONTAINERS}: {self.needs_containers}")
        return None

    def run(self, ctx: Context) -> Result:
        """`inspect` unless a trait is unmet, with the reasons a check cannot run turned into results instead of tracebacks."""
        try:
            why = self.unmet(ctx)
            return self.skipped_for(why) if why else self.inspect(ctx)
        except Exception as err:  # noqa: BLE001 (a check reports, it never crashes the run)
            if isinstance(err, kube.ApiError):
                return self.failed(
                    self.target,
                    f"the API server answered {err.status} {err.reason}",
                    "check the cluster and the kubeconfig's rights (MI005, MI006)",
                )
            # never "run doctor for the cause": this may be doctor; say what can be done about it
            hint = (
                f"meshinstall could not use {err.filename}: check that it exists and that this user may read and write it"
                if isinstance(err, OSError) and err.filename
                else f"an error of meshinstall's own in {self.id}: please report it with this output"
            )
            return self.failed(self.target, f"could not check: {type(err).__name__}: {err}", hint)

    @property
    def target(self) -> str:
        """What the check looks at, for results made outside `inspect`."""
        return self.looks_at or self.title

    def inspect(self, ctx: Context) -> Result:
        raise NotImplementedError


REGISTRY: dict[str, type[Check]] = {}


def register(cls: type[Check]) -> type[Check]:
    """Add a check class to the registry (ids are unique)."""
    assert cls.id not in REGISTRY, f"duplicate check id {cls.id}"
    REGISTRY[cls.id] = cls
    return cls
