"""The engine's run as a person sees it, fed by the engine's events (stacks/engine/events.py).

Every change to a Kubernetes object or a Helm release is printed once, when it ends, as a line that stays: its
words (`created`, or `will create` in a preview), what it is (`Deployment demo/hello`, as kubectl names it), how long
it took, and the properties that change (`spec.replicas: 5 → 2`). On a terminal, only the work in flight is live,
below those lines: a header (`[42/71] 3 in flight`, the time so far) and a timer per object, as many as the screen
has room for. Without a terminal, each line starts with the time and nothing is live. The engine's wrappers (the
stack, providers, component resources) are neither shown nor counted, and the reads of a refresh are counted, not
listed.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..stacks.engine.events import UNKNOWN, object_name
from ..stacks.state.state_file import SECRET_SIGNATURE

# What each engine operation is called in a preview (will …), while it runs (…ing) and when it ended (…ed).
WORDS = {
    "create": ("will create", "creating", "created"),
    "update": ("will update", "updating", "updated"),
    "replace": ("will replace", "replacing", "replaced"),
    "create-replacement": ("will replace", "replacing", "replaced"),
    "delete-replaced": ("will replace", "replacing", "replaced"),
    "delete": ("will delete", "deleting", "deleted"),
    "import": ("will import", "importing", "imported"),
    "discard": ("will forget", "forgetting", "forgotten"),
}
KEPT = ("will keep", "keeping", "kept")  # a delete of an object the spec keeps (retainOnDelete: the Gateway API CRDs)
STYLES = {"created": "green", "updated": "yellow", "replaced": "magenta", "deleted": "red", "kept": "cyan"}
# The steps of one replacement: one line for them, at the last of them.
REPLACEMENT = ("create-replacement", "replace", "delete-replaced")
MAX_DIFFS = 8  # property changes shown per object; the rest are counted
MAX_VALUE = 60  # characters of a value in a diff


class EngineProgress:
    """An event handler for one engine operation (`preview`, `up`, `refresh`, `destroy`), printing to `out`."""

    def __init__(self, out: Console, operation: str = "up") -> None:
        self.out, self.preview = out, operation == "preview"
        self.counts: Counter[str] = Counter()  # the ended changes, by their word (created, will update, …)
        self.read = 0  # objects read back by a refresh
        self.in_flight: dict[str, tuple[TaskID | None, float]] = {}
        self.begun = 0
        self.plan: dict[str, list[Text]] = {}  # a preview's changes, by the component they belong to
        self._lock = threading.Lock()
        self.live = (
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=out,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            if out.is_terminal
            else None
        )
        self.header: TaskID | None = None

    def __enter__(self) -> EngineProgress:
        if self.live:
            self.live.__enter__()
            self.header = self.live.add_task(self._header(), total=None)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self.live.__exit__(*exc)
        for group in sorted(self.plan):
            self._print([Text(f"{self._stamp()}{group}:", style="bold"), *self.plan[group]])

    # --- the engine's events ------------------------------------------------------------------------------------

    def __call__(self, event: Any) -> None:
        pre, done, failed = event.resource_pre_event, event.res_outputs_event, event.res_op_failed_event
        with self._lock:
            if pre is not None and shown(pre.metadata):
                self._begin(pre.metadata)
            for payload, ok in ((done, True), (failed, False)):
                if payload is not None and shown(payload.metadata):
                    self._end(payload.metadata, ok)
            if self.live and self.header is not None:
                self.live.update(self.header, description=self._header())

    def _begin(self, meta: Any) -> None:
        if meta.op.value in ("refresh", "read") or meta.urn in self.in_flight:
            return
        self.begun += 1
        task = None
        if self.live and not self.preview:
            task = self.live.add_task(f"{words(meta)[1]} {label(meta)}", total=None, visible=self._room())
        self.in_flight[meta.urn] = (task, time.monotonic())

    def _end(self, meta: Any, ok: bool) -> None:
        op = meta.op.value
        if op in ("refresh", "read"):
            self.read += 1
            return
        if op in REPLACEMENT and op != "delete-replaced" and ok:
            return  # one line for the replacement, at its last step
        task, since = self.in_flight.pop(meta.urn, (None, time.monotonic()))
        if task is not None and self.live:
            self.live.remove_task(task)
            self._show_waiting()
        word = words(meta)[0 if self.preview else 2] if ok else f"{op} failed"
        self.counts[word] += 1
        took = "" if self.preview else f"{time.monotonic() - since:.1f}s"
        line = Text(self._stamp())
        line.append(f"{word:<13}", style="red" if not ok else STYLES.get(word.split()[-1], ""))
        line.append(f" {label(meta)}")
        if took:
            line.append(f"  {took}", style="dim")
        lines = [line]
        why = replaced_because(meta)
        if why:
            lines.append(Text(f"{' ' * len(self._stamp())}    {why}", style="magenta"))
        lines += [Text(f"{' ' * len(self._stamp())}    {change}") for change in diffs(meta)]
        if self.preview:  # a plan is read as a whole: shown at its end, by component
            self.plan.setdefault(component(meta), []).extend(lines)
            return
        self._print(lines)

    def _print(self, lines: list[Text]) -> None:
        target = self.live.console if self.live else self.out
        for text in lines:
            target.print(text, soft_wrap=True, highlight=False)

    # --- the live part --------------------------------------------------------------------------------------

    def _room(self) -> bool:
        """Whether one more in-flight row fits on the screen (header, a margin and the rows shown)."""
        shown_rows = sum(1 for task in self.live.tasks if task.visible) if self.live else 0
        return shown_rows < max(1, self.out.size.height - 3)

    def _show_waiting(self) -> None:
        """A row freed: show the oldest in-flight one not shown yet."""
        for task, _ in self.in_flight.values():
            if task is not None and self.live and not self.live.tasks[self._index(task)].visible and self._room():
                self.live.update(task, visible=True)

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.live.tasks) if t.id == task) if self.live else 0

    def _header(self) -> str:
        ended = sum(self.counts.values())
        hidden = sum(1 for t in self.live.tasks if not t.visible) if self.live else 0
        more = f" ({hidden} not shown)" if hidden else ""
        read = f" · {self.read} read back" if self.read else ""
        return f"[{ended}/{max(self.begun, ended)}] {len(self.in_flight)} in flight{more}{read}"

    def _stamp(self) -> str:
        return "" if self.live else f"{datetime.now():%H:%M:%S} "


def shown(meta: Any) -> bool:
    """Whether a step is one a person sees: a Kubernetes object or a Helm release (or another custom resource), not
    the stack, a provider or a component."""
    state = meta.new or meta.old
    return not (
        meta.type == "pulumi:pulumi:Stack"
        or meta.type.startswith("pulumi:providers:")
        or (state is not None and not state.custom)
        or meta.op.value == "same"
    )


def component(meta: Any) -> str:
    """The part of the platform a change belongs to, from its parent in the program: `App payments-checkout`,
    `ControlPlane control-plane`; `platform` for what the stack holds itself."""
    state = meta.new or meta.old
    parent = getattr(state, "parent", None) or ""
    parts = parent.split("::")
    if len(parts) < 4 or parts[-2].endswith("pulumi:pulumi:Stack"):
        return "platform"
    return f"{parts[-2].rsplit('$', 1)[-1].rsplit(':', 1)[-1]} {parts[-1]}"


def words(meta: Any) -> tuple[str, str, str]:
    state = meta.old or meta.new
    if meta.op.value == "delete" and state is not None and state.retain_on_delete:
        return KEPT
    return WORDS.get(meta.op.value, (f"will {meta.op.value}", meta.op.value, meta.op.value))


def label(meta: Any) -> str:
    """What the object is, as kubectl names it: `Deployment demo/hello`; a Helm release `Release istio-system/istiod`."""
    state = meta.new or meta.old
    return object_name(meta.type, state.inputs if state else None, meta.urn)


def replaced_because(meta: Any) -> str:
    if meta.op.value not in REPLACEMENT or not meta.keys:
        return ""
    return f"replaced because {', '.join(meta.keys[:4])} change"


def diffs(meta: Any) -> list[str]:
    """`path: old → new` for the properties that change, from the engine's detailed diff of the inputs."""
    if meta.op.value not in ("update", *REPLACEMENT) or meta.old is None or meta.new is None:
        return []
    paths = list(meta.detailed_diff or {}) or list(meta.diffs or [])
    lines = []
    for path in sorted(paths)[:MAX_DIFFS]:
        old, new = at(meta.old.inputs or {}, path), at(meta.new.inputs or {}, path)
        lines.append(f"{path}: {show(old)} → {show(new)}")
    if len(paths) > MAX_DIFFS:
        lines.append(f"… and {len(paths) - MAX_DIFFS} more")
    return lines


PATH_PART = re.compile(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.\[]+)')


def at(value: Any, path: str) -> Any:
    """The value at an engine property path (`spec.template.spec.containers[0].image`, `metadata.labels["a.b/c"]`);
    `...` when there is none."""
    for index, quoted, plain in PATH_PART.findall(path):
        key: Any = int(index) if index else (quoted or plain)
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return ...
    return value


def show(value: Any) -> str:
    """A value of a diff, short; a secret (or anything holding one) as `[secret]`."""
    if value is ...:
        return "(none)"
    if value == UNKNOWN:
        return "(known after apply)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=repr)
    if SECRET_SIGNATURE in text:
        return "[secret]"
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
