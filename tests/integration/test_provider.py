"""The toolchain's Kubernetes provider on its own: what meshinstall's patches to it change (toolchain/kubernetes-provider)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from meshinstall.stacks.engine import toolchain

pytestmark = pytest.mark.integration


def collections_while_serving(env: dict[str, str], calls: int = 3) -> int:
    """How many times the provider's Go collector ran while it served `calls` requests for its schema (5 MB each)."""
    provider = toolchain.find("pulumi-resource-kubernetes")
    assert provider, "the test needs the toolchain's provider (toolchain/install.sh)"
    started = time.monotonic()
    process = subprocess.Popen(
        [str(provider)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env, "GODEBUG": "gctrace=1"}
    )
    try:
        port = process.stdout.readline().strip()
        serving = time.monotonic() - started  # the collections before this were the provider's start
        with grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 64 << 20)]
        ) as channel:
            for _ in range(calls):
                provider_pb2_grpc.ResourceProviderStub(channel).GetSchema(provider_pb2.GetSchemaRequest(version=0))
    finally:
        process.terminate()
        stderr = process.communicate(timeout=30)[1]
    return sum(1 for at in re.findall(r"^gc \d+ @([\d.]+)s", stderr, re.M) if float(at) >= serving)


def test_the_provider_keeps_to_a_memory_limit_of_its_own():
    """GOMEMLIMIT reaches every plugin the engine starts, so the provider takes its own (lower) limit from
    MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB: under one of 4 MiB it collects at each schema it serves, where without a
    limit its heap may grow to twice what is live."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOMEMLIMIT", "MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB")}
    free = collections_while_serving(env)
    limited = collections_while_serving({**env, "MESHINSTALL_PROVIDER_MEMORY_LIMIT_MIB": "4"})
    assert limited >= 2 * free + 3, (free, limited)


class RecordingApi(ThreadingHTTPServer):
    """An API server that knows its version and nothing else, and notes each request's method and path."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Answer)

    def kubeconfig(self) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "fake",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{self.server_address[1]}"}}],
                "users": [{"name": "fake", "user": {}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            }
        )


class _Answer(BaseHTTPRequestHandler):
    server: RecordingApi

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.requests.append(f"GET {path}")
        found = path == "/version"
        body = json.dumps(
            {"major": "1", "minor": "34", "gitVersion": "v1.34.12"}
            if found
            else {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
        ).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[RecordingApi]:
    api = RecordingApi()
    threading.Thread(target=api.serve_forever, daemon=True).start()
    yield api
    api.shutdown()


def test_under_server_side_apply_the_provider_leaves_the_openapi_document_to_the_api_server(api_server: RecordingApi):
    """The provider configured as meshinstall configures it (server-side apply) checks a Deployment without asking
    for the whole OpenAPI v2 document: the API server validates the apply itself, as for `kubectl apply
    --server-side`, and rebuilds that document after any CRD change (about 1 s here), which every engine run after
    one would otherwise wait for before its first object. The unpatched provider fetches and parses it at Configure."""
    provider = toolchain.find("pulumi-resource-kubernetes")
    process = subprocess.Popen([str(provider)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = process.stdout.readline().strip()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Configure(
                provider_pb2.ConfigureRequest(
                    acceptSecrets=True,
                    acceptResources=True,
                    variables={
                        "kubernetes:config:kubeconfig": api_server.kubeconfig(),
                        "kubernetes:config:enableServerSideApply": "true",
                    },
                )
            )
            deployment = struct_pb2.Struct()
            deployment.update(
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "default"},
                    "spec": {
                        "selector": {"matchLabels": {"app": "web"}},
                        "template": {
                            "metadata": {"labels": {"app": "web"}},
                            "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                        },
                    },
                }
            )
            checked = stub.Check(
                provider_pb2.CheckRequest(
                    urn="urn:pulumi:dev::meshinstall::kubernetes:apps/v1:Deployment::web",
                    olds=struct_pb2.Struct(),
                    news=deployment,
                )
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not checked.failures, checked.failures
    assert "GET /version" in api_server.requests, api_server.requests  # the provider did reach the API server
    assert not [r for r in api_server.requests if r.startswith("GET /openapi/")], api_server.requests
