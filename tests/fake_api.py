"""A Kubernetes API server for unit tests: an ApiClient whose answers are given by path (stacks/kube.py calls it)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from meshinstall.checks.base import Context
from meshinstall.schemas.validate import load_spec

Answer = Callable[[str, Any], tuple[int, Any]]  # (method, body) -> (status, body)


class Answers:
    """An ApiClient that answers each path as its entry says (any other as `default` says), and keeps what was sent."""

    def __init__(self, answers: dict[str, Answer], default: Answer | None = None) -> None:
        self.answers, self.default, self.sent = answers, default, []

    def param_serialize(self, method: str, resource_path: str, query_params: list, header_params: dict, body: Any = None, **_: Any) -> tuple:
        self.sent.append((method, resource_path, dict(query_params), header_params.get("Accept")))
        return method, resource_path, body

    def call_api(self, method: str, path: str, body: Any, _request_timeout: Any = None) -> SimpleNamespace:
        status, answer = (self.answers.get(path) or self.default)(method, body)
        return SimpleNamespace(status=status, reason={403: "Forbidden", 404: "Not Found"}.get(status, "OK"), headers={},
                               data=json.dumps(answer).encode(), read=lambda: None)


def always(status: int, body: Any) -> Answer:
    return lambda method, sent: (status, body)


def context(api: Answers, spec_path: Path | None = None) -> Context:
    """A check context whose API server is `api`, on the spec at `spec_path` (none: an invalid spec)."""
    ctx = Context(load_spec(spec_path) if spec_path else None, spec_path or Path("dev.yaml"))
    ctx.__dict__["api"] = api
    return ctx
