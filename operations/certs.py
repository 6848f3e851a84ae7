"""`meshinstall certs`: Linkerd's identity certificates, shown and rotated.

An issuer rotation is one `up` with a new issuer signed by the trust anchor; the identity controller reloads it and
proxies get certificates from it as theirs renew (every 24 hours). An anchor rotation follows Linkerd's documented
order, one `up` per phase, each recorded in the state so that an interrupted rotation resumes where it stopped:
1. the new anchor is trusted beside the old one (the trust roots hold both); the meshed workloads are restarted so
   every proxy trusts both;
2. a new issuer signed by the new anchor; the workloads are restarted so every proxy's certificate comes from it;
3. the old anchor is dropped: no proxy holds a certificate it signed any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509

from ..errors import UsageError
from ..schemas.model import Spec
from ..stacks.cluster import restarts
from ..stacks.cluster.target import spec_namespaces
from ..stacks.engine import environment
from ..stacks.program import identity
from ..stacks.program.identity import LinkerdIdentity
from .steps import after_the_update, changing, converge
from .view import View

PHASES = {
    identity.BUNDLED: "the new trust anchor is trusted beside the old one",
    identity.REISSUED: "the issuer is signed by the new trust anchor, both still trusted",
    "": "the old trust anchor is dropped",
}


@dataclass(frozen=True)
class Certificate:
    """One certificate of the identity, for `certs show` and `status`: what it is and when it expires."""

    role: str  # "trust anchor", "old trust anchor", "issuer"
    subject: str
    expires: datetime
    days_left: int


def linkerd_only(spec: Spec) -> None:
    """Only Linkerd's identity is meshinstall's: UsageError (exit 2) for another mesh."""
    if not spec.mesh.linkerd:
        raise UsageError(
            f"{spec.name} runs {spec.mesh.provider}: its control plane makes and rotates its own certificates"
        )


def rotatable(spec: Spec) -> None:
    """meshinstall rotates only what it makes: UsageError saying who rotates the rest."""
    linkerd_only(spec)
    issuer = spec.mesh.identity.issuer
    if issuer.cert_manager:
        raise UsageError("cert-manager owns the issuer of " + spec.name + ": it renews it (see its Certificate)")
    if issuer.certificate or spec.mesh.identity.trust_anchor.certificate:
        raise UsageError(
            f"the spec of {spec.name} gives the identity by reference (mesh.identity): renew the files or variables it "
            "names, then `meshinstall up`; or remove the references to let meshinstall make and rotate them"
        )


def certificates(spec: Spec) -> list[Certificate]:
    """The identity the state keeps (what `up` installed), newest anchor first; empty before the first `up`."""
    linkerd_only(spec)
    opened = environment.open_environment(spec)
    if opened.identity is None or not environment.read_state(opened).resources:
        return []
    return describe(opened.identity)


def describe(held: LinkerdIdentity) -> list[Certificate]:
    out = []
    for i, pem in enumerate(held.anchors):
        cert = identity.certificates(pem)[0]
        out.append(_certificate("trust anchor" if i == 0 else "old trust anchor", cert))
    if held.issuer_certificate:
        out.append(_certificate("issuer", identity.certificates(held.issuer_certificate)[0]))
    return out


def _certificate(role: str, cert: x509.Certificate) -> Certificate:
    expires = cert.not_valid_after_utc
    return Certificate(role, cert.subject.rfc4514_string(), expires, (expires - datetime.now(timezone.utc)).days)


def rotate(spec: Spec, asked_as: str, view: View, anchor: bool, yes: bool = False) -> int:
    """Rotate the issuer, or (`anchor`) the trust anchor in its three phases from wherever an earlier run stopped.
    Returns the number of `up`s it ran."""
    rotatable(spec)
    environment.read_secrets(spec)
    if not yes:
        view.confirm(
            f"Rotate the {'trust anchor' if anchor else 'identity issuer'} of {asked_as}"
            + (" (three updates, the meshed workloads restarted twice)?" if anchor else "?")
        )
    days = spec.mesh.identity
    runs = 0
    while True:

        def step(held: LinkerdIdentity) -> LinkerdIdentity:
            if not anchor and held.rotation:
                raise UsageError(
                    f"a rotation of the trust anchor of {spec.name} is in progress: finish it with "
                    f"`meshinstall certs rotate {asked_as} --anchor`"
                )
            if not anchor:
                return identity.rotated_issuer(held, days.issuer.validity_days)
            return identity.anchor_rotation_step(held, days.trust_anchor.validity_days, days.issuer.validity_days)

        with changing(spec, view, refresh=True, rotate=step) as opened:
            if not environment.read_state(opened).resources:
                raise UsageError(
                    f"{spec.name} has no Linkerd identity to rotate yet: `meshinstall up {asked_as}` makes it"
                )
            now = opened.identity
            view.step(f"rotating: {PHASES[now.rotation] if anchor else 'a new issuer signed by the trust anchor'}")
            converge(opened, asked_as, view, True, True)
            runs += 1
        if not anchor or now.rotation == "":
            return runs
        with after_the_update(
            "the restart of the meshed workloads", f"`meshinstall certs rotate {asked_as} --anchor` resumes"
        ):
            teams = tuple(ns for team in spec.paas.teams for ns in team.namespaces)
            charts = tuple(
                ns for ns in spec_namespaces(spec) if ns not in (*teams, "linkerd", "linkerd-cni", "monitoring")
            )
            restarted = restarts.restart_deployments(opened.target, teams, charts)
        view.notice(f"restarted {len(restarted)} Deployment(s) so that their proxies take the new trust")
