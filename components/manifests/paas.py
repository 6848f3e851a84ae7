"""What the PaaS layer declares: its teams and apps, and the shared ingress Gateway's spec, as a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .app import AppArgs
from .team import TeamArgs

if TYPE_CHECKING:
    import pulumi


@dataclass(frozen=True)
class SharedGateway:
    """The shared ingress Gateway: the hosts it serves and, for HTTPS, the Secret holding their certificate."""

    hosts: tuple[str, ...]
    tls_secret: str | None = None  # None: HTTP only


@dataclass(frozen=True)
class PaasArgs:
    """Every team's space, every team's apps (in team order) and the shared Gateway, if any."""

    teams: tuple[TeamArgs, ...]
    apps: tuple[AppArgs, ...]
    gateway: SharedGateway | None = None
    after: tuple[pulumi.Resource, ...] = ()  # what the Gateway waits for (istiod, the Istio CRDs)
    mesh: str = "istio"


def gateway_spec(gateway: SharedGateway) -> dict[str, Any]:
    """The shared ingress Gateway: HTTP for the hosts, or HTTPS with a redirect when TLS is set."""
    hosts = list(gateway.hosts)
    selector = {"istio": "ingressgateway"}
    if gateway.tls_secret is not None:
        return {
            "selector": selector,
            "servers": [
                {
                    "port": {"number": 80, "name": "http", "protocol": "HTTP"},
                    "hosts": hosts,
                    "tls": {"httpsRedirect": True},
                },
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": hosts,
                    "tls": {"mode": "SIMPLE", "credentialName": gateway.tls_secret},
                },
            ],
        }
    return {
        "selector": selector,
        "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts}],
    }
