"""The Kubernetes API as plain JSON, over urllib3, with meshinstall's own kubeconfig loading.

Importing `CoreV1Api` and the pydantic models it reads into took about a second of every `up`, before it knew that
there was nothing to do (bench/results.md, stop 19); importing the client's kubeconfig loader, which brings its
ApiClient and models with it, still took 0.25 s (stop 23). The reads and writes on the way to the engine (doctor's
checks, the recovery of a dead run, the look for others' changes) use these instead, and so do `verify`'s checks
(through checks/base.py's `Context`).

A kubeconfig user with client certificates, a token, a token file or a user name and password is read here. One whose
credentials come from a program (`exec`, as EKS and GKE write them) gets them from that program, run here within
EXEC_TIMEOUT; one with an `auth-provider` is loaded by the Kubernetes client's own loader.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import signal
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

JSON = "application/json"
# names, labels, annotations and managed fields, without the objects' bodies (a CRD's schema is megabytes)
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
MERGE_PATCH = "application/merge-patch+json"
CONNECT_TIMEOUT = 10.0  # seconds; a read waits as long as the caller's timeout (none by default)
EXEC_TIMEOUT = 30.0  # seconds a kubeconfig's credential plugin (`exec`) may take to answer
RETRIES = 1  # one more try on a refused or reset connection, as the client was configured for doctor's checks


class ConfigError(Exception):
    """The kubeconfig cannot be read, or lacks the context, cluster or user it names."""


class ApiError(Exception):
    """The API server answered with an error status (404 is not one: `request` gives None)."""

    def __init__(self, status: int, reason: str, body: bytes = b"") -> None:
        self.status, self.reason = status, reason
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        super().__init__(f"({status}) {reason}" + (f": {message}" if message else ""))


# What a caller catches when it cannot read the cluster: a bad kubeconfig, no connection, or a refusal.
FAILURES = (OSError, urllib3.exceptions.HTTPError, ConfigError, ApiError)


@dataclass(frozen=True)
class Client:
    """A connection pool to one API server, with the identity of a kubeconfig's user."""

    server: str
    pool: urllib3.PoolManager
    authorization: str | None = None

    def call(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> tuple[int, str, bytes]:
        """One HTTP exchange: status, reason, body."""
        auth = {"Authorization": self.authorization} if self.authorization else {}
        url = self.server + path + (f"?{urlencode(query)}" if query else "")
        response = self.pool.request(
            method,
            url,
            body=body,
            headers=headers | auth,
            retries=RETRIES,
            preload_content=True,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout),
        )
        return response.status, response.reason or "", response.data


def connect(kubeconfig: str, context: str | None) -> Client:
    """A client for a kubeconfig's context (its current one when None); ConfigError when it cannot be loaded. A command
    asks for one several times (doctor, recovery, the look for others' changes, verify): while the kubeconfig stays as
    it was, each gets the same client, and with it the same connections."""
    try:
        stamp = os.stat(kubeconfig).st_mtime_ns
    except OSError as err:
        raise ConfigError(f"cannot read the kubeconfig {kubeconfig}: {err}") from err
    return _native(kubeconfig, context, stamp) or _by_a_program(kubeconfig, context)


@functools.lru_cache(maxsize=8)
def _native(kubeconfig: str, context: str | None, stamp: int) -> Client | None:
    """The client of a user whose credentials the kubeconfig holds; None for one whose credentials a program gives
    (they may expire, so that client is not kept)."""
    return _loaded(kubeconfig, context, run_exec=False)


def _loaded(kubeconfig: str, context: str | None, run_exec: bool) -> Client | None:
    """`_from` on the kubeconfig's file, whatever is wrong with it a ConfigError."""
    try:
        config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8")) or {}
        return _from(config, kubeconfig, context, run_exec)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read the kubeconfig {kubeconfig}: {err}") from err
    except (AttributeError, TypeError, ValueError) as err:  # not a kubeconfig's shape, base64 that is not, a bad PEM
        raise ConfigError(f"the kubeconfig {kubeconfig} is not a valid kubeconfig: {err}") from err


def _from(config: dict[str, Any], kubeconfig: str, context: str | None, run_exec: bool = False) -> Client | None:
    """The client of the kubeconfig's context; None for a user whose credentials a program gives, unless `run_exec`
    (then the program is run, within EXEC_TIMEOUT)."""
    name = context or config.get("current-context")
    if not name:
        raise ConfigError(f"the kubeconfig {kubeconfig} has no current-context, and none was given")
    chosen = _entry(config, "contexts", name, kubeconfig, "context")
    cluster = _entry(config, "clusters", chosen.get("cluster"), kubeconfig, "cluster")
    user = _entry(config, "users", chosen.get("user"), kubeconfig, "user") if chosen.get("user") else {}
    if "auth-provider" in user or ("exec" in user and not run_exec):
        return None
    if not cluster.get("server"):
        raise ConfigError(f"the cluster of context {name} in {kubeconfig} has no server")
    base = Path(kubeconfig).parent
    if "exec" in user:
        user = {**user, **_exec_credential(user["exec"], cluster, base, kubeconfig)}
    tls = _tls(cluster, user, base) if cluster["server"].startswith("https") else None
    return _client(
        cluster["server"].rstrip("/"),
        tls,
        cluster.get("tls-server-name"),
        cluster.get("proxy-url"),
        _authorization(user, base),
    )


def _entry(config: dict[str, Any], kind: str, name: Any, kubeconfig: str, what: str) -> dict[str, Any]:
    for item in config.get(kind) or []:
        if isinstance(item, dict) and item.get("name") == name:
            return item.get(what) or {}
    raise ConfigError(f"the kubeconfig {kubeconfig} has no {what} named {name!r}")


def _data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    """A kubeconfig's `key-data` (base64) or `key` (a file, relative to the kubeconfig's folder)."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return (base / os.path.expanduser(entry[key])).read_bytes()
    return None


def _tls(cluster: dict[str, Any], user: dict[str, Any], base: Path) -> ssl.SSLContext:
    """The TLS context: the cluster's CA (or the system's), and the user's client certificate."""
    # verifies the server and its name; loading the system's CAs takes 20 ms
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cluster.get("insecure-skip-tls-verify"):
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # asked for: kubectl does not warn either
    else:
        ca = _data(cluster, "certificate-authority", base)
        if ca:
            tls.load_verify_locations(cadata=ca.decode())
        else:
            tls.load_default_certs()
    certificate, key = _data(user, "client-certificate", base), _data(user, "client-key", base)
    if certificate and key:
        with tempfile.TemporaryDirectory() as folder:  # the ssl module loads a key pair from files only
            files = Path(folder) / "cert", Path(folder) / "key"
            for file, content in zip(files, (certificate, key), strict=True):
                file.write_bytes(content)
            tls.load_cert_chain(*files)
    return tls


def _authorization(user: dict[str, Any], base: Path) -> str | None:
    if user.get("token"):
        return f"Bearer {user['token']}"
    if user.get("tokenFile"):
        return f"Bearer {(base / user['tokenFile']).read_text().strip()}"
    if user.get("username") and user.get("password"):
        return urllib3.util.make_headers(basic_auth=f"{user['username']}:{user['password']}")["authorization"]
    return None


def _by_a_program(kubeconfig: str, context: str | None) -> Client:
    """A user whose credentials a program (`exec`) gives: meshinstall runs it, bounded in time (the Kubernetes client's
    loader waits on it for good, and `doctor` hung silently on a plugin that never answered); an `auth-provider` is
    left to the Kubernetes client's loader."""
    return _loaded(kubeconfig, context, run_exec=True) or _by_the_client(kubeconfig, context)


def _exec_credential(plugin: dict[str, Any], cluster: dict[str, Any], base: Path, kubeconfig: str) -> dict[str, str]:
    """Run a kubeconfig's credential plugin as client-go does (the ExecCredential protocol, not interactive) within
    EXEC_TIMEOUT seconds; the user's `token` or client certificate from its answer. ConfigError when it fails, says
    nothing usable, or does not answer in time."""
    command = str(plugin.get("command") or "")
    if not command:
        raise ConfigError(f"the credential plugin of {kubeconfig} names no command")
    if "/" in command and not os.path.isabs(command):  # relative to the kubeconfig's folder, as client-go has it
        command = str(base / command)
    api_version = str(plugin.get("apiVersion") or "client.authentication.k8s.io/v1")
    spec: dict[str, Any] = {"interactive": False}
    if plugin.get("provideClusterInfo"):
        spec["cluster"] = {
            key: cluster[name]
            for key, name in (("server", "server"), ("certificate-authority-data", "certificate-authority-data"))
            if cluster.get(name)
        }
    variables = {str(v.get("name")): str(v.get("value", "")) for v in plugin.get("env") or [] if isinstance(v, dict)}
    info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": spec}
    try:
        plugin_process = subprocess.Popen(
            [command, *[str(a) for a in plugin.get("args") or []]],
            env={**os.environ, **variables, "KUBERNETES_EXEC_INFO": json.dumps(info)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a plugin that does not answer is stopped with what it started
        )
    except OSError as err:
        hint = plugin.get("installHint") or "install it, or fix the kubeconfig's `exec.command`"
        raise ConfigError(
            f"the credential plugin of {kubeconfig} (`{command}`) cannot run: {err.strerror}; {hint}"
        ) from err
    try:
        stdout, stderr = plugin_process.communicate(timeout=EXEC_TIMEOUT)
    except subprocess.TimeoutExpired as err:
        os.killpg(plugin_process.pid, signal.SIGKILL)
        plugin_process.communicate()
        raise ConfigError(
            f"the credential plugin of {kubeconfig} (`{command}`) did not answer within {EXEC_TIMEOUT:.0f} s: "
            "run it by hand to see what it waits for (a login?)"
        ) from err
    answer = subprocess.CompletedProcess(plugin_process.args, plugin_process.returncode, stdout, stderr)
    if answer.returncode != 0:
        said = (answer.stderr.decode(errors="replace").strip().splitlines() or [""])[-1][:200]
        raise ConfigError(
            f"the credential plugin of {kubeconfig} (`{command}`) failed with exit {answer.returncode}: {said}"
        )
    try:
        status = json.loads(answer.stdout)["status"]
    except (ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"the credential plugin of {kubeconfig} (`{command}`) gave no ExecCredential status") from err
    if status.get("token"):
        return {"token": str(status["token"])}
    if status.get("clientCertificateData") and status.get("clientKeyData"):
        return {
            "client-certificate-data": base64.b64encode(str(status["clientCertificateData"]).encode()).decode(),
            "client-key-data": base64.b64encode(str(status["clientKeyData"]).encode()).decode(),
        }
    raise ConfigError(f"the credential plugin of {kubeconfig} (`{command}`) gave neither a token nor a certificate")


def _by_the_client(kubeconfig: str, context: str | None) -> Client:
    """A user whose credentials an auth provider gives: the Kubernetes client's loader runs it."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)
    except config.ConfigException as err:
        raise ConfigError(str(err)) from err
    tls = ssl.create_default_context(cafile=configuration.ssl_ca_cert)  # the system's CAs when there is no file
    if not configuration.verify_ssl:
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    if configuration.cert_file and configuration.key_file:
        tls.load_cert_chain(configuration.cert_file, configuration.key_file)
    return _client(
        configuration.host,
        tls,
        configuration.tls_server_name,
        configuration.proxy,
        configuration.get_api_key_with_prefix("BearerToken"),
    )


def _client(
    server: str, tls: ssl.SSLContext | None, server_name: str | None, proxy: str | None, authorization: str | None
) -> Client:
    options: dict[str, Any] = {"ssl_context": tls} if tls else {}
    if server_name:
        options["server_hostname"] = server_name
    pool = urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
    return Client(server, pool, authorization)


def request(
    api: Client,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    body: Any = None,
    accept: str = JSON,
    timeout: float | None = None,
    content_type: str = JSON,
) -> dict[str, Any] | None:
    """One call; its JSON answer, or None for a 404. Any other answer but a success raises ApiError."""
    headers = {"Accept": accept} | ({"Content-Type": content_type} if body is not None else {})
    status, reason, data = api.call(
        method, path, query or [], headers, None if body is None else json.dumps(body).encode(), timeout
    )
    if status == 404:
        return None
    if not 200 <= status < 300:
        raise ApiError(status, reason, data)
    return json.loads(data) if data else {}


def get(api: Client, path: str, accept: str = JSON, timeout: float | None = None) -> dict[str, Any] | None:
    """An object (or a list, or `/version`), or None when it does not exist."""
    return request(api, "GET", path, accept=accept, timeout=timeout)


def group_path(api_version: str) -> str:
    """The path of an API group version (`/api/v1`, `/apis/apps/v1`): its resources when read."""
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def path_of(api_version: str, plural: str, namespace: str | None = None) -> str:
    """The list path of a kind, cluster-wide or in a namespace."""
    prefix = group_path(api_version)
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


def items(
    api: Client, api_version: str, plural: str, selector: str = "", namespace: str | None = None, accept: str = JSON
) -> list[dict[str, Any]]:
    """Every object of a kind (with `selector`, those it selects); [] when the kind is not served."""
    found = request(
        api,
        "GET",
        path_of(api_version, plural, namespace),
        query=[("labelSelector", selector)] if selector else None,
        accept=accept,
    )
    return (found or {}).get("items") or []  # an empty PartialObjectMetadataList comes back with "items": null


def list_metadata(
    api: Client, api_version: str, plural: str, selector: str = "", namespace: str | None = None
) -> list[dict[str, Any]]:
    """Names, labels, annotations and managed fields of every object of a kind, without their bodies (one request)."""
    return items(api, api_version, plural, selector, namespace, METADATA_LIST)


def delete(api: Client, api_version: str, plural: str, name: str, namespace: str | None = None) -> None:
    """Delete an object (gone already is fine)."""
    request(api, "DELETE", f"{path_of(api_version, plural, namespace)}/{name}")


def patch(
    api: Client,
    api_version: str,
    plural: str,
    name: str,
    changes: dict[str, Any],
    namespace: str | None = None,
    field_manager: str | None = None,
) -> dict[str, Any] | None:
    """Merge `changes` into an object (a JSON merge patch), as `field_manager` when given; the object after it."""
    query = [("fieldManager", field_manager)] if field_manager else None
    return request(
        api,
        "PATCH",
        f"{path_of(api_version, plural, namespace)}/{name}",
        query=query,
        body=changes,
        content_type=MERGE_PATCH,
    )


def pinned(kubeconfig: str, context: str | None, folder: Path) -> str:
    """A kubeconfig whose current context is `context`: `kubeconfig` itself when no context is named, else a copy in
    `folder` (owner-only) with its relative file paths made absolute."""
    if not context:
        return kubeconfig
    source = Path(kubeconfig)
    config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    config["current-context"] = context
    for section, keys in (("clusters", ("certificate-authority",)), ("users", ("client-certificate", "client-key"))):
        for entry in config.get(section) or []:
            body = entry.get(section[:-1]) or {}
            for key in keys:
                if key in body and not Path(body[key]).is_absolute():
                    body[key] = str((source.parent / body[key]).resolve())
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "kubeconfig"
    out.touch(mode=0o600)
    out.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(out)


def server_of(kubeconfig: str, context: str | None) -> str:
    """The API server URL a kubeconfig's (current or named) context reaches ("" when it cannot be read)."""
    try:
        config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8")) or {}
        name = context or config.get("current-context")
        ctx = next(c["context"] for c in config.get("contexts") or [] if c.get("name") == name)
        return next(
            c["cluster"].get("server", "") for c in config.get("clusters") or [] if c.get("name") == ctx["cluster"]
        )
    except (OSError, yaml.YAMLError, StopIteration, KeyError, TypeError, AttributeError):
        return ""
