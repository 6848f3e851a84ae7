"""Linkerd's identity: the trust anchor (the root every proxy trusts) and the issuer it signs (the intermediate CA
that signs each proxy's certificate), ECDSA P-256 as Linkerd requires. meshinstall makes them, or reads them from
the spec's references; what it made is kept only as a secret output of the stack (`IDENTITY_OUTPUT`), encrypted in
the state, and read back before the next run, so the same certificates are declared until they are rotated."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ...errors import UsageError
from ..state.recorded import IDENTITY_OUTPUT

if TYPE_CHECKING:
    from ...schemas.model import Identity

__all__ = ["IDENTITY_OUTPUT", "LinkerdIdentity"]

TRUST_DOMAIN = "cluster.local"
ANCHOR_NAME = f"root.linkerd.{TRUST_DOMAIN}"
ISSUER_NAME = f"identity.linkerd.{TRUST_DOMAIN}"

# An anchor rotation's phases (Linkerd's "rotating the trust anchor"): both anchors trusted, then the issuer signed
# by the new one, then the old anchor dropped. Each is an `up`; the phase is recorded, so an interrupted one resumes.
BUNDLED, REISSUED = "bundled", "reissued"


@dataclass(frozen=True)
class LinkerdIdentity:
    """What the control plane is given: the anchors it trusts (newest first) and the issuer; keys as PEM text.

    `issuer_key` None: cert-manager owns the issuer. `anchor_key` None: meshinstall cannot sign a new issuer
    (the anchor was given without its key). `made`: meshinstall made them (and keeps them in the state)."""

    anchors: tuple[str, ...]
    issuer_certificate: str | None = None
    issuer_key: str | None = None
    anchor_key: str | None = None
    made: bool = True
    rotation: str = ""  # an anchor rotation in progress: BUNDLED or REISSUED

    @property
    def bundle(self) -> str:
        """The trust anchors as one PEM bundle (the ConfigMap's `ca-bundle.crt`)."""
        return "".join(self.anchors)

    def record(self) -> str:
        """The secret output's value: everything meshinstall made, for the next run."""
        return json.dumps(
            {
                "anchors": list(self.anchors),
                "anchorKey": self.anchor_key,
                "issuerCertificate": self.issuer_certificate,
                "issuerKey": self.issuer_key,
                "rotation": self.rotation,
            }
        )

    @staticmethod
    def from_record(text: Any) -> LinkerdIdentity | None:
        """What `record` wrote, or None when it is not that."""
        try:
            data = json.loads(text) if isinstance(text, str) else None
            return LinkerdIdentity(
                tuple(data["anchors"]),
                data["issuerCertificate"],
                data["issuerKey"],
                data["anchorKey"],
                True,
                data.get("rotation", ""),
            )
        except (TypeError, KeyError, ValueError):
            return None


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    days: int,
    path_length: int,
) -> x509.Certificate:
    """A CA certificate for `key`, self-signed or signed by `issuer`, valid for `days` from a minute ago."""
    now = _now() - datetime.timedelta(minutes=1)
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), critical=False
        )
    return builder.sign(signer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    # SEC 1 ("EC PRIVATE KEY"), as Linkerd's own tooling writes an issuer key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def make_anchor(days: int) -> tuple[str, str]:
    """A new trust anchor: its certificate and key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(_ca(ANCHOR_NAME, key, None, days, 1)), _key_pem(key)


def make_issuer(anchor_certificate: str, anchor_key: str, days: int) -> tuple[str, str]:
    """A new issuer signed by the anchor: its certificate and key (PEM)."""
    anchor = x509.load_pem_x509_certificate(anchor_certificate.encode())
    signer = serialization.load_pem_private_key(anchor_key.encode(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(_ca(ISSUER_NAME, key, (anchor, signer), days, 0)), _key_pem(key)


def made(anchor_days: int, issuer_days: int) -> LinkerdIdentity:
    """A trust anchor and an issuer it signs, both new."""
    anchor, anchor_key = make_anchor(anchor_days)
    issuer, issuer_key = make_issuer(anchor, anchor_key, issuer_days)
    return LinkerdIdentity((anchor,), issuer, issuer_key, anchor_key)


def rotated_issuer(identity: LinkerdIdentity, days: int) -> LinkerdIdentity:
    """A new issuer signed by the newest anchor; the anchors stay."""
    issuer, key = make_issuer(identity.anchors[0], identity.anchor_key or "", days)
    return replace(identity, issuer_certificate=issuer, issuer_key=key)


def anchor_rotation_step(identity: LinkerdIdentity, anchor_days: int, issuer_days: int) -> LinkerdIdentity:
    """The next phase of an anchor rotation: a new anchor trusted beside the old one (BUNDLED), then a new issuer
    signed by it (REISSUED), then the old anchor dropped (done, no rotation)."""
    if identity.rotation == "":
        anchor, key = make_anchor(anchor_days)
        return replace(identity, anchors=(anchor, *identity.anchors), anchor_key=key, rotation=BUNDLED)
    if identity.rotation == BUNDLED:
        return replace(rotated_issuer(identity, issuer_days), rotation=REISSUED)
    return replace(identity, anchors=identity.anchors[:1], rotation="")


def certificates(bundle: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle."""
    return x509.load_pem_x509_certificates(bundle.encode()) if bundle.strip() else []


def signed_by(certificate: str, anchors: str) -> bool:
    """Whether `certificate` is signed by one of the `anchors` (a PEM bundle) and valid now."""
    issued = x509.load_pem_x509_certificate(certificate.encode())
    for anchor in certificates(anchors):
        if anchor.subject != issued.issuer:
            continue
        try:
            issued.verify_directly_issued_by(anchor)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return anchor.not_valid_after_utc > _now() and issued.not_valid_after_utc > _now()
    return False


def expires(certificate: str) -> datetime.datetime:
    """When a certificate (the first of a PEM bundle) expires."""
    return certificates(certificate)[0].not_valid_after_utc


def days_left(certificate: str) -> int:
    """Whole days until a certificate expires (negative: expired)."""
    return (expires(certificate) - _now()).days


def current(spec: Identity, given: Mapping[str, str], previous: LinkerdIdentity | None) -> LinkerdIdentity:
    """The identity the next run declares: what the spec gives by reference, else what meshinstall made before (the
    last update's record), else new certificates. An issuer meshinstall signs with a given anchor is kept while the
    anchor stays the same."""
    anchor, issuer = spec.trust_anchor, spec.issuer
    _readable(spec, given)
    if issuer.cert_manager:
        return LinkerdIdentity((given["anchor"],), made=False)
    if issuer.certificate:
        return LinkerdIdentity((given["anchor"],), given["issuer"], given["issuerKey"], given.get("anchorKey"), False)
    if anchor.certificate:
        if previous and previous.anchors == (given["anchor"],) and previous.issuer_certificate:
            return previous
        issued, key = make_issuer(given["anchor"], given["anchorKey"], issuer.validity_days)
        return LinkerdIdentity((given["anchor"],), issued, key, given["anchorKey"])
    return previous if previous and previous.anchor_key else made(anchor.validity_days, issuer.validity_days)


def _readable(spec: Identity, given: Mapping[str, str]) -> None:
    """What the spec's references hold is PEM that Linkerd can use (ECDSA P-256 keys): UsageError naming the JSON
    path and where the value was read, never a traceback from the parser."""
    anchor, issuer = spec.trust_anchor, spec.issuer
    paths = {
        "anchor": ("trustAnchor.certificate", anchor.certificate),
        "anchorKey": ("trustAnchor.key", anchor.key),
        "issuer": ("issuer.certificate", issuer.certificate),
        "issuerKey": ("issuer.key", issuer.key),
    }
    for name, value in given.items():
        path, ref = paths[name]
        try:
            if name.endswith("Key"):
                key = serialization.load_pem_private_key(value.encode(), None)
                if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
                    raise ValueError("not an ECDSA P-256 key, which Linkerd requires")
            elif not certificates(value):
                raise ValueError("no certificate in it")
        except (ValueError, TypeError) as err:
            where = ref.describe() if ref else "the spec"
            reason = str(err).split(". See ")[0]
            raise UsageError(
                f"$.mesh.identity.{path} ({where}) is not a PEM {'private key' if name.endswith('Key') else 'certificate'}: "
                f"{reason}; give the {'key' if name.endswith('Key') else 'certificate'} in PEM (ECDSA P-256)"
            ) from err
