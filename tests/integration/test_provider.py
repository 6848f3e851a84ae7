"""The toolchain's Kubernetes provider on its own: what meshinstall's patches to it change (toolchain/kubernetes-provider)."""

from __future__ import annotations

import os
import re
import subprocess
import time

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

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
