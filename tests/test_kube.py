"""stacks/cluster/kube.py: the Kubernetes API read as JSON, as doctor's checks and the recovery before the engine use it."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_api import Answers, always, context

from meshinstall.checks.base import Context, Status
from meshinstall.checks.preflight.mi006_rights import ClusterRights
from meshinstall.checks.preflight.mi009_capacity import Capacity
from meshinstall.stacks.cluster import kube


def staging(isolated: Any, api: Answers) -> Context:
    """A check context on the staging environment (an existing cluster) whose API server is `api`."""
    return context(api, isolated / "environments" / "staging.yaml")


def test_a_kind_with_no_objects_lists_as_empty():
    """The API server answers an empty metadata-only list with "items": null (doctor's MI008 on a cluster without
    any CRD failed on it)."""
    api = Answers(
        {
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions": always(
                200, {"kind": "PartialObjectMetadataList", "items": None}
            ),
            "/api/v1/namespaces/istio-system/secrets": always(200, {"items": [{"metadata": {"name": "a"}}]}),
        }
    )
    assert kube.list_metadata(api, "apiextensions.k8s.io/v1", "customresourcedefinitions") == []
    assert kube.list_metadata(api, "v1", "secrets", "owner=helm", "istio-system") == [{"metadata": {"name": "a"}}]
    assert api.sent[1][2:] == ({"labelSelector": "owner=helm"}, kube.METADATA_LIST)


def test_a_missing_object_reads_as_none_and_a_refusal_fails_the_check_with_the_api_servers_answer(isolated):
    api = Answers(
        {
            "/api/v1/nodes/gone": always(404, {"reason": "NotFound"}),
            "/api/v1/nodes": always(403, {"reason": "Forbidden"}),
        }
    )
    assert kube.get(api, "/api/v1/nodes/gone") is None
    result = Capacity().run(staging(isolated, api))
    assert result.status is Status.FAILED and result.message == "the API server answered 403 Forbidden"


def test_capacity_adds_up_the_nodes_allocatable(isolated):
    node = {"status": {"allocatable": {"cpu": "500m", "memory": "1Gi"}}}
    result = Capacity().run(staging(isolated, Answers({"/api/v1/nodes": always(200, {"items": [node, node]})})))
    assert result.status is Status.FAILED and result.target == "2 nodes' allocatable"
    assert result.message.endswith(", has 1 and 2Gi"), result.message


def _reviews(denied: set[tuple[str, str]]) -> Answers:
    """An API server that allows every (resource, verb) but `denied`, and anything (`*`, `*`) when nothing is denied."""

    def review(method: str, body: dict) -> tuple[int, dict]:
        asked = body["spec"]["resourceAttributes"]
        assert method == "POST" and body["kind"] == "SelfSubjectAccessReview"
        wildcard = asked["resource"] == "*" and asked["verb"] == "*"
        return 201, {
            "status": {"allowed": not denied if wildcard else (asked["resource"], asked["verb"]) not in denied}
        }

    return Answers({"/apis/authorization.k8s.io/v1/selfsubjectaccessreviews": review})


def test_rights_names_each_one_the_api_server_denies(isolated):
    result = ClusterRights().run(staging(isolated, _reviews({("customresourcedefinitions", "delete")})))
    assert result.status is Status.FAILED
    assert "not allowed (1 of " in result.message and result.message.endswith(
        ": delete customresourcedefinitions.apiextensions.k8s.io"
    ), result.message


def test_rights_of_an_identity_that_may_do_anything_take_one_review(isolated):
    api = _reviews(set())
    result = ClusterRights().run(staging(isolated, api))
    assert result.status is Status.PASSED and result.message.endswith("the identity may do anything"), result.message
    assert len(api.sent) == 1


# --- kubeconfig users, as `kube.connect` reads them (the client of doctor, recovery and verify) ---------------------


def _certificate(name: str, issuer: tuple[Any, Any] | None = None, ip: str | None = None) -> tuple[Any, Any]:
    """A key and certificate for `name`, signed by `issuer` (key, certificate), else self-signed as a CA."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key, signer = issuer or (key, None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer.subject if signer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    return key, builder.sign(signer_key, hashes.SHA256())


def _pem(key: Any, certificate: Any) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives import serialization

    return (
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        certificate.public_bytes(serialization.Encoding.PEM),
    )


@pytest.fixture
def api_server(tmp_path):
    """An HTTPS server on 127.0.0.1 that wants client certificates of its CA (or none) and answers with who called:
    the client certificate's name and the Authorization header. Yields (server URL, CA, client key, client cert) in PEM."""
    import http.server
    import ssl
    import threading

    ca = _certificate("test-ca")
    server_key, server_cert = _pem(*_certificate("127.0.0.1", ca, ip="127.0.0.1"))
    client_key, client_cert = _pem(*_certificate("alice", ca))
    ca_pem = _pem(*ca)[1]
    (tmp_path / "server.key").write_bytes(server_key)
    (tmp_path / "server.crt").write_bytes(server_cert)
    (tmp_path / "ca.crt").write_bytes(ca_pem)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            peer = self.connection.getpeercert() or {}
            names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
            body = json.dumps(
                {
                    "gitVersion": "v1.34.0",
                    "user": names[0] if names else None,
                    "authorization": self.headers.get("Authorization"),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    tls.load_verify_locations(tmp_path / "ca.crt")
    tls.verify_mode = ssl.CERT_OPTIONAL
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", ca_pem, client_key, client_cert
    server.shutdown()


def _kubeconfig(
    path: Path, cluster: dict[str, Any], user: dict[str, Any], contexts: tuple[str, ...] = ("main",)
) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0],
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in contexts],
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_client_certificate_user_is_who_the_api_server_sees(tmp_path, api_server):
    """Certificates inline (`-data`, as kind writes them) and as files beside the kubeconfig (as minikube does)."""
    url, ca, key, cert = api_server
    inline = _kubeconfig(
        tmp_path / "inline",
        {"server": url, "certificate-authority-data": b64(ca)},
        {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
    )
    (tmp_path / "pki").mkdir()
    for name, content in (("ca.crt", ca), ("alice.crt", cert), ("alice.key", key)):
        (tmp_path / "pki" / name).write_bytes(content)
    files = _kubeconfig(
        tmp_path / "files",
        {"server": url, "certificate-authority": "pki/ca.crt"},
        {"client-certificate": "pki/alice.crt", "client-key": "pki/alice.key"},
    )
    for kubeconfig in (inline, files):
        assert kube.get(kube.connect(kubeconfig, None), "/version") == {
            "gitVersion": "v1.34.0",
            "user": "alice",
            "authorization": None,
        }


def test_a_token_user_sends_its_token_and_the_server_is_verified(tmp_path, api_server):
    url, ca, _, _ = api_server
    (tmp_path / "token").write_text("s3cret\n")
    with_token = _kubeconfig(
        tmp_path / "token.yaml", {"server": url, "certificate-authority-data": b64(ca)}, {"token": "abc"}
    )
    with_file = _kubeconfig(
        tmp_path / "file.yaml", {"server": url, "certificate-authority-data": b64(ca)}, {"tokenFile": "token"}
    )
    assert kube.get(kube.connect(with_token, None), "/version")["authorization"] == "Bearer abc"
    assert kube.get(kube.connect(with_file, None), "/version")["authorization"] == "Bearer s3cret"
    # the system's CAs do not know it
    unknown_ca = _kubeconfig(tmp_path / "other.yaml", {"server": url}, {"token": "abc"})
    with pytest.raises(kube.FAILURES):
        kube.get(kube.connect(unknown_ca, None), "/version")
    insecure = _kubeconfig(
        tmp_path / "insecure.yaml", {"server": url, "insecure-skip-tls-verify": True}, {"token": "abc"}
    )
    assert kube.get(kube.connect(insecure, None), "/version")["user"] is None


def test_an_exec_user_gets_its_token_from_the_program_it_names(tmp_path, api_server):
    """As EKS's and GKE's kubeconfigs do (`aws eks get-token`): meshinstall runs the program, as client-go would."""
    url, ca, _, _ = api_server
    plugin = tmp_path / "get-token"
    plugin.write_text(
        '#!/bin/sh\necho \'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "from-exec"}}\'\n'
    )
    plugin.chmod(0o755)
    kubeconfig = _kubeconfig(
        tmp_path / "exec.yaml",
        {"server": url, "certificate-authority-data": b64(ca)},
        {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin), "interactiveMode": "Never"}},
    )
    assert kube.get(kube.connect(kubeconfig, None), "/version")["authorization"] == "Bearer from-exec"


def test_a_credential_plugin_that_never_answers_is_a_config_error_in_bounded_time(tmp_path, monkeypatch):
    """Issue 28: `doctor` hung silently (killed at 200 s) on a kubeconfig whose plugin never returned."""
    monkeypatch.setattr(kube, "EXEC_TIMEOUT", 1.0)
    plugin = tmp_path / "login"
    plugin.write_text("#!/bin/sh\nsleep 600\n")
    plugin.chmod(0o755)
    hangs = _kubeconfig(tmp_path / "hangs.yaml", {"server": "https://127.0.0.1:1"}, {"exec": {"command": str(plugin)}})
    with pytest.raises(kube.ConfigError, match=r"\(`.*login`\) did not answer within 1 s"):
        kube.connect(hangs, None)
    # a plugin that fails, one that is missing, and one that says nothing usable: each says so
    plugin.write_text("#!/bin/sh\necho 'error: the SSO session has expired' >&2\nexit 1\n")
    with pytest.raises(kube.ConfigError, match="failed with exit 1: error: the SSO session has expired"):
        kube.connect(hangs, None)
    missing = _kubeconfig(
        tmp_path / "missing.yaml",
        {"server": "https://127.0.0.1:1"},
        {"exec": {"command": "no-such-plugin", "installHint": "install no-such-plugin from the vendor"}},
    )
    with pytest.raises(kube.ConfigError, match="cannot run: No such file or directory; install no-such-plugin"):
        kube.connect(missing, None)
    plugin.write_text("#!/bin/sh\necho not-json\n")
    with pytest.raises(kube.ConfigError, match="gave no ExecCredential status"):
        kube.connect(hangs, None)


def test_a_kubeconfig_without_the_named_context_says_which(tmp_path):
    kubeconfig = _kubeconfig(
        tmp_path / "config", {"server": "https://127.0.0.1:1"}, {"token": "t"}, contexts=("alpha", "beta")
    )
    assert kube.connect(kubeconfig, "beta").server == "https://127.0.0.1:1"
    with pytest.raises(kube.ConfigError, match="has no context named 'gamma'"):
        kube.connect(kubeconfig, "gamma")
    with pytest.raises(kube.ConfigError, match="cannot read the kubeconfig"):
        kube.connect(str(tmp_path / "missing"), None)


def test_a_kubeconfig_that_is_not_one_is_a_config_error_not_a_traceback(tmp_path):
    """Doctor, the recovery and the look for others' changes catch `kube.FAILURES`: a malformed kubeconfig is one."""
    not_a_mapping = tmp_path / "string"
    not_a_mapping.write_text("just a string\n")
    bad_ca = _kubeconfig(
        tmp_path / "bad-ca",
        {"server": "https://127.0.0.1:1", "certificate-authority-data": "!!notbase64"},
        {"token": "t"},
    )
    for kubeconfig in (str(not_a_mapping), bad_ca):
        with pytest.raises(kube.ConfigError, match="is not a valid kubeconfig"):
            kube.connect(kubeconfig, None)
