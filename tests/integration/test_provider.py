"""The toolchain's Kubernetes provider on its own: what meshinstall's patches to it change (toolchain/kubernetes-provider)."""

from __future__ import annotations

import base64
import http.client
import os
import re
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import grpc
import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from meshinstall.simulator import LocalClusterConfig, LocalControlPlane
from meshinstall.stacks import engine

pytestmark = pytest.mark.integration


def collections_while_serving(env: dict[str, str], calls: int = 3) -> int:
    """How many times the provider's Go collector ran while it served `calls` requests for its schema (5 MB each)."""
    provider = engine.find("pulumi-resource-kubernetes")
    assert provider, "the test needs the toolchain's provider (toolchain/install.sh)"
    started = time.monotonic()
    process = subprocess.Popen([str(provider)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**env, "GODEBUG": "gctrace=1"})
    try:
        port = process.stdout.readline().strip()
        serving = time.monotonic() - started  # the collections before this were the provider's start
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 64 << 20)]) as channel:
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


class RecordingProxy(ThreadingHTTPServer):
    """A plain-HTTP front for the API server that notes each request's method and path (the test's kubeconfig
    points at it; it adds the API server's token)."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        self.upstream = urlsplit(cluster["server"])
        self.tls = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        self.token = config["users"][0]["user"]["token"]
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _Forward)

    def kubeconfig(self) -> str:
        server = f"http://127.0.0.1:{self.server_address[1]}"
        return yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "proxy",
            "clusters": [{"name": "proxy", "cluster": {"server": server}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
        })


class _Forward(BaseHTTPRequestHandler):
    server: RecordingProxy

    def _forward(self) -> None:
        self.server.requests.append(f"{self.command} {self.path.split('?')[0]}")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream = http.client.HTTPSConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=30,
                                               context=self.server.tls)
        upstream.request(self.command, self.path, body or None, {**headers, "Authorization": f"Bearer {self.server.token}"})
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingProxy]:
    """A simulated cluster of its own (no CRDs) behind a RecordingProxy."""
    folder = tmp_path_factory.mktemp("provider-cluster")
    plane = LocalControlPlane(LocalClusterConfig(state_dir=str(folder / "cluster"), nodes=1, search_path=engine.search_path()))
    try:
        plane.start()
        proxy = RecordingProxy(plane.kubeconfig_path)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        yield proxy
        proxy.shutdown()
    finally:
        plane.remove()


def test_under_server_side_apply_the_provider_leaves_the_openapi_document_to_the_api_server(api_server: RecordingProxy):
    """The provider configured as meshinstall configures it (server-side apply) checks a Deployment without asking
    for the whole OpenAPI v2 document: the API server validates the apply itself, as for `kubectl apply
    --server-side`, and rebuilds that document after any CRD change (about 1 s here), which every engine run after
    one would otherwise wait for before its first object. The unpatched provider fetches and parses it at Configure."""
    provider = engine.find("pulumi-resource-kubernetes")
    process = subprocess.Popen([str(provider)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = process.stdout.readline().strip()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Configure(provider_pb2.ConfigureRequest(acceptSecrets=True, acceptResources=True, variables={
                "kubernetes:config:kubeconfig": api_server.kubeconfig(), "kubernetes:config:enableServerSideApply": "true"}))
            deployment = struct_pb2.Struct()
            deployment.update({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                               "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                                   "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
            checked = stub.Check(provider_pb2.CheckRequest(
                urn="urn:pulumi:dev::meshinstall::kubernetes:apps/v1:Deployment::web", olds=struct_pb2.Struct(), news=deployment))
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not checked.failures, checked.failures
    assert "GET /version" in api_server.requests, api_server.requests  # the provider did reach the API server
    assert not [r for r in api_server.requests if r.startswith("GET /openapi/")], api_server.requests
