"""The Kubernetes API as plain JSON: the client's kubeconfig loading and connection, none of its typed API classes.

Importing `CoreV1Api` and the pydantic models it reads into took about a second of every `up`, before it knew that
there was nothing to do (bench/results.md, stop 19). The reads and writes on the way to the engine (doctor's checks,
the recovery of a dead run, the look for others' changes) use these instead, and so do `verify`'s checks (through
checks/base.py's `Context`).
"""

from __future__ import annotations

import json
from typing import Any

JSON = "application/json"
# names, labels, annotations and managed fields, without the objects' bodies (a CRD's schema is megabytes)
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


def connect(kubeconfig: str, context: str | None) -> Any:
    """An ApiClient for a kubeconfig's context (raises when it cannot be loaded)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=kubeconfig, context=context)


def request(api: Any, method: str, path: str, *, query: list[tuple[str, str]] | None = None, body: Any = None,
            accept: str = JSON, timeout: float | None = None) -> dict[str, Any] | None:
    """One call; its JSON answer, or None for a 404. Any other failure raises the client's ApiException."""
    from kubernetes.client.exceptions import ApiException

    headers = {"Accept": accept} | ({"Content-Type": JSON} if body is not None else {})
    serialized = api.param_serialize(method=method, resource_path=path, query_params=query or [], header_params=headers,
                                     body=body, auth_settings=["BearerToken"])
    response = api.call_api(*serialized, _request_timeout=timeout)
    response.read()
    if response.status == 404:
        return None
    if not 200 <= response.status < 300:
        raise ApiException(http_resp=response)
    return json.loads(response.data) if response.data else {}


def get(api: Any, path: str, accept: str = JSON, timeout: float | None = None) -> dict[str, Any] | None:
    """An object (or a list, or `/version`), or None when it does not exist."""
    return request(api, "GET", path, accept=accept, timeout=timeout)


def group_path(api_version: str) -> str:
    """The path of an API group version (`/api/v1`, `/apis/apps/v1`): its resources when read."""
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def path_of(api_version: str, plural: str, namespace: str | None = None) -> str:
    """The list path of a kind, cluster-wide or in a namespace."""
    prefix = group_path(api_version)
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


def items(api: Any, api_version: str, plural: str, selector: str = "", namespace: str | None = None,
          accept: str = JSON) -> list[dict[str, Any]]:
    """Every object of a kind (with `selector`, those it selects); [] when the kind is not served."""
    found = request(api, "GET", path_of(api_version, plural, namespace), query=[("labelSelector", selector)] if selector else None,
                    accept=accept)
    return (found or {}).get("items") or []  # an empty PartialObjectMetadataList comes back with "items": null


def list_metadata(api: Any, api_version: str, plural: str, selector: str = "", namespace: str | None = None) -> list[dict[str, Any]]:
    """Names, labels, annotations and managed fields of every object of a kind, without their bodies (one request)."""
    return items(api, api_version, plural, selector, namespace, METADATA_LIST)


def delete(api: Any, api_version: str, plural: str, name: str, namespace: str | None = None) -> None:
    """Delete an object (gone already is fine)."""
    request(api, "DELETE", f"{path_of(api_version, plural, namespace)}/{name}")
