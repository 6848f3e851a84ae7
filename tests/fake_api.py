"""A Kubernetes API server for unit tests: a client whose answers are given by path (stacks/cluster/kube.py calls it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meshinstall.checks.base import Context
from meshinstall.schemas.validate import load_spec

Answer = Callable[[str, Any], tuple[int, Any]]  # (method, body) -> (status, body)


class Answers:
    """A client that answers each path as its entry says (any other as `default` says), and keeps what was sent. An
    entry for the path with its query (`/api/v1/namespaces/shop/pods?labelSelector=app=web`) comes before the path's."""

    def __init__(self, answers: dict[str, Answer], default: Answer | None = None) -> None:
        self.answers, self.default, self.sent = answers, default, []

    def call(
        self, method: str, path: str, query: list, headers: dict, body: bytes | None, timeout: Any = None
    ) -> tuple[int, str, bytes]:
        self.sent.append((method, path, dict(query), headers.get("Accept")))
        asked = f"{path}?{'&'.join(f'{k}={v}' for k, v in query)}" if query else path
        answer_of = self.answers.get(asked) or self.answers.get(path) or self.default
        status, answer = answer_of(method, None if body is None else json.loads(body))
        return status, {403: "Forbidden", 404: "Not Found"}.get(status, "OK"), json.dumps(answer).encode()


def always(status: int, body: Any) -> Answer:
    return lambda method, sent: (status, body)


def context(api: Answers, spec_path: Path | None = None) -> Context:
    """A check context whose API server is `api`, on the spec at `spec_path` (none: an invalid spec)."""
    ctx = Context(load_spec(spec_path) if spec_path else None, spec_path or Path("dev.yaml"))
    ctx.__dict__["api"] = api
    return ctx
