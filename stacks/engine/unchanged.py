"""When `up` has nothing to do, it says so without running the engine.

The engine's floor for an `up` that changes nothing is the Python program declaring every resource and the engine
diffing each one: about 15 s at 100 apps, where `kubectl apply` of the same objects takes 3 s (bench/results.md).
So `up` first asks two cheap questions, and starts the engine only when either answer is no:

1. Are the program's inputs those of the last successful update? Everything the program reads (the merged spec,
   the resolved secrets, the Gateway API plan, the chart mirror and its archives, meshinstall's code, the engine and
   provider binaries, the cluster it talks to) is folded into an HMAC keyed by the state passphrase. The program
   exports it as the `inputs` output, a secret, so the last update's value is in the state, encrypted like the
   state's other secrets: in plain text, the HMAC of inputs that are all known (a spec without secrets) would let
   whoever reads the state test guesses of the passphrase at the speed of SHA-256, not of the key derivation.
2. (With refresh, the default.) Is every object of the state in the cluster as the last update left it? One
   metadata-only LIST per kind reads every object; an object is as left when it exists and no field manager but
   meshinstall's (pulumi-kubernetes-*), the cluster's own controllers and status writers touched it. A Helm release
   is as left when its deployed revision is the state's. A `kubectl edit`, `label`, `scale` or delete shows up as
   a manager or a missing object, and `up` then runs the engine, which refreshes and puts it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..cluster import kube
from ..cluster.restarts import RESTART_MANAGER
from ..cluster.target import ClusterTarget
from ..state.recorded import Recorded
from .environment import Environment, last_update, read_state
from .fingerprint import changed_inputs
from .runs import Outcome

OUR_MANAGER_PREFIX = "pulumi-kubernetes-"
# The cluster's own managers, which write our objects as part of running them, never to change what meshinstall declared.
CLUSTER_MANAGERS = frozenset({"kube-controller-manager", "kube-scheduler", "kube-apiserver", "kwok"})
# Writers whose changes are not drift: the cluster's own, and meshinstall's restarts of a mesh upgrade.
NOT_DRIFT = CLUSTER_MANAGERS | {RESTART_MANAGER}


@dataclass(frozen=True)
class Decision:
    """What `nothing_to_do` found without the engine: the outcome when there is nothing to do, else why the engine
    must run; `read_at` when the spec changed but the cluster was then found as the state records it (so an engine
    refresh would read nothing new)."""

    done: Outcome | None
    why: str
    read_at: datetime | None = None

    def refreshes(self, requested: bool) -> bool:
        """Whether the engine should refresh before its operation."""
        return requested and self.read_at is None

    @property
    def reason(self) -> str:
        """Why the engine runs, and (when so) why it does not refresh first."""
        if self.read_at:
            return f"{self.why}; every object is as the last update left it, so the engine does not refresh first"
        return self.why


def changed_since(recorded: str | None, now: str) -> str:
    """Which inputs changed since the last update, in a person's words."""
    names = changed_inputs(recorded, now) or ["the program's inputs"]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    return f"{shown} changed since the last update"


def nothing_to_do(env: Environment, refresh: bool) -> Decision:
    """Whether an `up` or `preview` has nothing to do, found without the engine (stacks/engine/unchanged.py). With
    `refresh`, it also reads whether every object is as the last refreshed update left it, even when the spec changed:
    the engine then need not refresh before applying the change."""
    last = last_update(env)
    if not last or last.kind != "update" or last.result != "succeeded":
        return Decision(None, "the last operation on the stack was not a successful update")
    state = read_state(env)
    if state.pending:
        return Decision(None, "the state records operations that were interrupted")
    recorded = env.recorded_inputs(state)
    inputs_changed = None if recorded == env.inputs else changed_since(recorded, env.inputs)
    if refresh and not state.refreshed:
        return Decision(None, inputs_changed or "the last update did not read the cluster (--no-refresh)")
    read_at = None
    if refresh:
        read_at = datetime.now(timezone.utc)
        try:
            changed = changed_objects(env.target, state, last.start_time, env.namespaces)
        except (RuntimeError, *kube.FAILURES) as err:
            return Decision(None, inputs_changed or f"the cluster could not be read ({err})")
        if changed:
            return Decision(
                None, f"{len(changed)} object(s) touched in the cluster since the last update, first {changed[0]}"
            )
    if inputs_changed:
        return Decision(None, inputs_changed, read_at)
    return Decision(
        Outcome("up", {"same": state.resources}, state.outputs),
        f"nothing changed since the last update ({last.end_time or last.start_time:%Y-%m-%d %H:%M})",
    )


def changed_objects(
    target: ClusterTarget, state: Recorded, since: datetime, namespaces: tuple[str, ...] = ()
) -> list[str]:
    """Objects of the state that are gone, or that someone else touched after the last update started (that update
    refreshed, so what others did before it has been seen, as the engine sees it); [] when all are as left.
    `namespaces` given (a team's stack): read in those namespaces only, where the team's identity may."""
    # the engine's history times are UTC
    since = state.read_since(since if since.tzinfo else since.replace(tzinfo=timezone.utc))
    api = kube.connect(target.kubeconfig, target.context)
    plurals = _plurals(api, {api_version for api_version, _ in state.objects})
    changed: list[str] = []
    for (api_version, kind), ids in sorted(state.objects.items()):
        plural = plurals.get((api_version, kind))
        if plural is None:
            changed.append(f"{kind}s ({api_version} is not served)")
            continue
        listed = (
            [item for ns in namespaces for item in kube.list_metadata(api, api_version, plural, namespace=ns)]
            if namespaces
            else kube.list_metadata(api, api_version, plural)
        )
        live = {_id(item): item for item in listed}
        for i in sorted(ids):
            writers = _foreign_entries(live[i], since) if i in live else ["deleted"]
            if writers:
                changed.append(f"{kind} {i} (by {', '.join(writers)})" if i in live else f"{kind} {i} (deleted)")
    if namespaces:  # a team's stack has no Helm release
        return changed
    live_helm = _deployed_helm_revisions(api)
    changed += [
        f"Helm release {r}" for r, revision in sorted(state.helm_releases.items()) if live_helm.get(r) != revision
    ]
    return changed


def _foreign_entries(item: Mapping[str, Any], since: datetime) -> list[str]:
    """Managers other than meshinstall's and the cluster's own that wrote the object at or after `since`."""
    found = []
    for entry in item["metadata"].get("managedFields") or []:
        manager = entry.get("manager", "")
        if entry.get("subresource") == "status" or manager in NOT_DRIFT or manager.startswith(OUR_MANAGER_PREFIX):
            continue
        stamp = entry.get("time")  # absent on a `scale` write: when is unknown, so it counts
        # whole seconds
        if stamp is None or datetime.fromisoformat(stamp.replace("Z", "+00:00")) >= since - timedelta(seconds=1):
            found.append(manager)
    return found


def _id(item: Mapping[str, Any]) -> str:
    meta = item["metadata"]
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def _plurals(api: Any, api_versions: Iterable[str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for api_version in api_versions:
        # a group no longer served: its objects count as changed
        served = kube.get(api, kube.group_path(api_version)) or {}
        for resource in served.get("resources", []):
            if "/" not in resource["name"]:
                found[(api_version, resource["kind"])] = resource["name"]
    return found


def _deployed_helm_revisions(api: Any) -> dict[str, int]:
    """Helm 3 keeps each release revision in a Secret labelled owner=helm; the deployed one is current."""
    revisions: dict[str, int] = {}
    for item in kube.list_metadata(api, "v1", "secrets", "owner=helm,status=deployed"):
        meta = item["metadata"]
        revisions[f"{meta['namespace']}/{meta['labels']['name']}"] = int(meta["labels"]["version"])
    return revisions
