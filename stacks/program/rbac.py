"""The rights the identity running `up` needs for a spec: one ClusterRole, each rule with its reason.

Every rule is cluster-wide: meshinstall creates the namespaces it installs into, so a Role could not be bound in them
before `up`. The charts bring ClusterRoles of their own (istiod's, the operator's) that grant rights the installer
need not hold; Kubernetes lets it create and bind them only with `escalate` and `bind` on roles. That makes the
identity trusted with RBAC: say so to whoever grants it. `meshinstall rbac ENV` prints the rules, doctor's MI006
asks the API server about each of them, and docs/rbac.md is generated from this file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml

from ...schemas.model import Spec

MANAGE = ("get", "list", "watch", "create", "update", "patch", "delete")
READ = ("get", "list", "watch")
ROLE_NAME = "meshinstall-installer"


@dataclass(frozen=True)
class Rule:
    """One PolicyRule, why meshinstall needs it, and for which specs (`when`)."""

    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str
    when: str = "always"

    def pairs(self) -> list[tuple[str, str, str]]:
        """(group, resource, verb) for each access this rule grants."""
        return [(g, r, v) for g in self.groups for r in self.resources for v in self.verbs]


def _monitoring(spec: Spec) -> bool:
    from .releases import releases

    return releases(spec).prometheus is not None


def _teams(spec: Spec) -> bool:
    return bool(spec.paas.teams)


CONDITIONS: dict[str, Callable[[Spec], bool]] = {
    "always": lambda spec: True,
    "monitoring": _monitoring,
    "teams": _teams,
    "cni": lambda spec: spec.cni_enabled,
    "istio": lambda spec: not spec.mesh.linkerd,
    "linkerd": lambda spec: spec.mesh.linkerd,
    "linkerd and ingress": lambda spec: spec.mesh.linkerd and spec.mesh.ingress_gateway.enabled,
    "linkerd and monitoring": lambda spec: spec.mesh.linkerd and _monitoring(spec),
}

RULES = (
    Rule(("",), ("namespaces",), MANAGE, "the platform's namespaces (istio-system, monitoring) and each team's"),
    Rule(
        ("apiextensions.k8s.io",),
        ("customresourcedefinitions",),
        MANAGE,
        "Istio's CRDs (istio-base chart), the Gateway API CRDs, prometheus-operator's CRDs; read to find who owns them",
    ),
    Rule(
        ("admissionregistration.k8s.io",),
        ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"),
        MANAGE,
        "istiod's sidecar injector and config validation, the operator's admission webhooks; read to find another mesh's (MI008)",
    ),
    Rule(
        ("rbac.authorization.k8s.io",),
        ("clusterroles", "clusterrolebindings", "roles", "rolebindings"),
        MANAGE,
        "the charts' own roles and bindings (istiod, gateways, CNI, operator, Kiali) and each team's access RoleBinding",
    ),
    Rule(
        ("rbac.authorization.k8s.io",),
        ("clusterroles", "roles"),
        ("escalate", "bind"),
        "the charts' roles grant rights this identity does not hold itself: Kubernetes refuses to create them without "
        "`escalate`, and to bind them without `bind`",
    ),
    Rule(
        ("",),
        ("configmaps", "secrets", "services", "serviceaccounts"),
        MANAGE,
        "the charts' and the apps' objects; Helm keeps each release's record in a Secret of its namespace (MI012 reads them)",
    ),
    Rule(
        ("apps",),
        ("deployments",),
        MANAGE,
        "istiod, the gateways, Kiali, Jaeger and the apps; restarted in a mesh upgrade",
    ),
    Rule(
        ("apps",), ("daemonsets",), MANAGE, "the istio-cni node agent; Prometheus's node-exporter", "cni or monitoring"
    ),
    Rule(("apps",), ("replicasets",), READ, "waiting for Deployments to become available"),
    Rule(("apps",), ("deployments/status",), ("get",), "a mesh upgrade: the restarted Deployments have rolled out"),
    Rule(
        ("",),
        ("pods", "endpoints", "events", "persistentvolumeclaims"),
        READ,
        "waiting for workloads and Services to become ready (the engine watches their Pods, Endpoints, claims and events); verify's checks",
    ),
    Rule(("discovery.k8s.io",), ("endpointslices",), READ, "verify: the apps are behind their Services (MI405)"),
    Rule(
        ("",),
        ("pods/exec",),
        ("create",),
        "verify: asks one istio-proxy of each app, inside its pod, whether it is ready (MI204; "
        "skipped where no container runs)",
        "teams",
    ),
    Rule(("autoscaling",), ("horizontalpodautoscalers",), MANAGE, "istiod's autoscaler"),
    Rule(("batch",), ("jobs",), MANAGE, "kube-prometheus-stack's admission-webhook hook Jobs", "monitoring"),
    Rule(("",), ("resourcequotas", "limitranges"), MANAGE, "each team's quota and default container limits", "teams"),
    Rule(("networking.k8s.io",), ("networkpolicies",), MANAGE, "each team's default-deny policy; Kiali's"),
    Rule(
        ("networking.istio.io",),
        ("gateways", "virtualservices", "destinationrules", "sidecars"),
        MANAGE,
        "the shared ingress Gateway, each app's routes and traffic policy, each team's Sidecar scope",
        "istio",
    ),
    Rule(
        ("security.istio.io",),
        ("peerauthentications", "authorizationpolicies"),
        MANAGE,
        "the mesh's mTLS mode and each team's allowFrom",
        "istio",
    ),
    Rule(
        ("policy.linkerd.io",),
        ("servers", "meshtlsauthentications", "authorizationpolicies", "networkauthentications"),
        MANAGE,
        "each app's Server and allowFrom (MeshTLSAuthentication, AuthorizationPolicy); linkerd-viz's own policy",
        "linkerd",
    ),
    Rule(("linkerd.io",), ("serviceprofiles",), MANAGE, "linkerd-viz's ServiceProfile of its metrics API", "linkerd"),
    Rule(
        ("gateway.networking.k8s.io",),
        ("httproutes",),
        MANAGE,
        "each app's routes with Linkerd: canary weights and timeouts in the mesh, its host and path on the shared Gateway",
        "linkerd",
    ),
    Rule(
        ("gateway.networking.k8s.io",),
        ("gateways", "gatewayclasses"),
        MANAGE,
        "Envoy Gateway's GatewayClass and the shared Gateway the routes attach to",
        "linkerd and ingress",
    ),
    Rule(
        ("gateway.envoyproxy.io",),
        ("envoyproxies",),
        MANAGE,
        "the EnvoyProxy that meshes Envoy Gateway's proxies, with the spec's replicas and Service type",
        "linkerd and ingress",
    ),
    Rule(
        ("apiregistration.k8s.io",),
        ("apiservices",),
        MANAGE,
        "linkerd-viz's tap API (its chart registers v1alpha1.tap.linkerd.io)",
        "linkerd and monitoring",
    ),
    Rule(
        ("admissionregistration.k8s.io",),
        ("validatingadmissionpolicies", "validatingadmissionpolicybindings"),
        MANAGE,
        "Envoy Gateway's chart: its admission policy",
        "linkerd and ingress",
    ),
    Rule(
        ("monitoring.coreos.com",),
        ("prometheuses", "alertmanagers", "servicemonitors", "podmonitors", "prometheusrules"),
        MANAGE,
        "kube-prometheus-stack's Prometheus and Alertmanager, the mesh's scrape configs and each app's alerts",
        "monitoring",
    ),
    Rule(
        ("",),
        ("nodes",),
        ("get", "list"),
        "doctor: node capacity against quotas (MI009); whether the nodes run containers",
    ),
    Rule(
        ("storage.k8s.io",),
        ("storageclasses",),
        ("get", "list"),
        "doctor: a default StorageClass for Prometheus's volume",
        "monitoring",
    ),
    Rule(
        ("authorization.k8s.io",),
        ("selfsubjectaccessreviews",),
        ("create",),
        "doctor: MI006 asks the API server about each of these rights",
    ),
)


TEAM_ROLE_NAME = "meshinstall-team-deployer"

# What `up ENV --team T` does with the team's identity, in the team's app namespace only.
TEAM_RULES = (
    Rule(
        ("",), ("serviceaccounts", "services"), MANAGE, "each workload's ServiceAccount (its mesh identity) and Service"
    ),
    Rule(
        ("",),
        ("secrets",),
        MANAGE,
        "each workload's Secret of the variables it reads from `${resources.env.VAR}` (resolved at `up`)",
    ),
    Rule(("",), ("configmaps",), MANAGE, "the team's Grafana dashboard", "grafana"),
    Rule(("apps",), ("deployments",), MANAGE, "each workload's Deployments (stable, canary)"),
    Rule(
        ("networking.istio.io",),
        ("virtualservices", "destinationrules"),
        MANAGE,
        "each workload's routes (in the mesh and on the shared gateway) and traffic policy",
        "istio",
    ),
    Rule(
        ("security.istio.io",),
        ("authorizationpolicies",),
        MANAGE,
        "each workload's callers: the workloads whose `service-port` resources name it",
        "istio",
    ),
    Rule(
        ("gateway.networking.k8s.io",),
        ("httproutes",),
        MANAGE,
        "each workload's routes with Linkerd (in the mesh, and on the shared Gateway)",
        "linkerd",
    ),
    Rule(
        ("policy.linkerd.io",),
        ("servers", "meshtlsauthentications", "authorizationpolicies"),
        MANAGE,
        "each workload's Server and callers with Linkerd",
        "linkerd",
    ),
    Rule(("monitoring.coreos.com",), ("prometheusrules",), MANAGE, "each workload's alerts", "alerts"),
    Rule(
        ("",),
        ("pods", "events", "persistentvolumeclaims"),
        READ,
        "waiting for the Deployments to become available (the engine watches their Pods, claims and events)",
    ),
    Rule(("apps",), ("replicasets",), READ, "waiting for the Deployments to become available"),
    Rule(
        ("",),
        ("resourcequotas",),
        ("get", "list"),
        "finding the team's namespace ready (its quota is the platform's); reading what `up` left, before the engine",
    ),
)

TEAM_CONDITIONS: dict[str, Callable[[Spec], bool]] = {
    "always": lambda spec: True,
    "grafana": lambda spec: spec.monitoring.grafana.enabled and spec.monitoring.prometheus.enabled,
    "alerts": lambda spec: spec.monitoring.alerts.enabled and spec.monitoring.prometheus.enabled,
    "istio": lambda spec: not spec.mesh.linkerd,
    "linkerd": lambda spec: spec.mesh.linkerd,
}


def team_rules(spec: Spec) -> list[Rule]:
    """The rules a team's identity needs, in its app namespace, for `up --team`."""
    return [rule for rule in TEAM_RULES if TEAM_CONDITIONS[rule.when](spec)]


def team_role(spec: Spec, team: str, namespace: str) -> str:
    """A Role in the team's app namespace and a RoleBinding to fill in, as YAML: no cluster-scoped rule."""
    lines = [
        f"# The rights team {team} needs to run `meshinstall up {spec.name} --team {team}`: in its namespace",
        f"# {namespace} only, nothing cluster-wide. Its namespaces, quota and access are the platform's.",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: Role",
        "metadata:",
        f"  name: {TEAM_ROLE_NAME}",
        f"  namespace: {namespace}",
        "  labels: {app.kubernetes.io/managed-by: meshinstall}",
        "rules:",
        *_rule_lines(team_rules(spec)),
        "---",
        "# Bind it to the team's deploy identity (a ServiceAccount of its pipeline, or its group):",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: RoleBinding",
        "metadata:",
        f"  name: {TEAM_ROLE_NAME}",
        f"  namespace: {namespace}",
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: " + TEAM_ROLE_NAME + "}",
        "subjects:",
        f"  - {{kind: ServiceAccount, name: {team}-deployer, namespace: {namespace}}}",
    ]
    return "\n".join(lines) + "\n"


def _rule_lines(chosen: list[Rule]) -> list[str]:
    lines = []
    for rule in chosen:
        lines.append(f"  # {rule.why}")
        body = yaml.safe_dump(
            [{"apiGroups": list(rule.groups), "resources": list(rule.resources), "verbs": list(rule.verbs)}],
            default_flow_style=None,
            width=200,
            sort_keys=False,
        )
        lines += ["  " + line for line in body.rstrip().splitlines()]
    return lines


def needed(rule: Rule, spec: Spec) -> bool:
    return any(CONDITIONS[part](spec) for part in rule.when.split(" or "))


def rules(spec: Spec) -> list[Rule]:
    """The rules the identity running `up`, `verify` and `destroy` needs for `spec`."""
    return [rule for rule in RULES if needed(rule, spec)]


def cluster_role(spec: Spec) -> str:
    """The ClusterRole (and a binding to fill in) as YAML, each rule under a comment with its reason."""
    lines = [
        f"# The rights meshinstall needs to run `up`, `verify` and `destroy` of {spec.name}, with the reason for each.",
        "# Bind them to the identity that runs meshinstall, e.g.:",
        f"#   kubectl create clusterrolebinding {ROLE_NAME} --clusterrole={ROLE_NAME} --serviceaccount=NAMESPACE:NAME",
        "# `escalate` and `bind` on roles let this identity create the charts' roles: it is trusted with RBAC.",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: ClusterRole",
        "metadata:",
        f"  name: {ROLE_NAME}",
        "  labels: {app.kubernetes.io/managed-by: meshinstall}",
        "rules:",
        *_rule_lines(rules(spec)),
    ]
    return "\n".join(lines) + "\n"


def markdown() -> str:
    """docs/rbac.md: every rule, when it is needed, and why."""
    rows = ["| API group | resources | verbs | needed | why |", "|---|---|---|---|---|"]
    for rule in RULES:
        rows.append(
            f"| `{', '.join(g or 'core' for g in rule.groups)}` | {', '.join(rule.resources)} | {', '.join(rule.verbs)} | {rule.when} | {rule.why} |"
        )
    return "\n".join(
        [
            "# The rights meshinstall needs",
            "",
            "<!-- generated by `python -m meshinstall.stacks.program.rbac > docs/rbac.md`; tests/test_rbac.py keeps it current -->",
            "",
            "The identity that runs `meshinstall up`, `verify` and `destroy` on an `existing` cluster needs these rights, all",
            "cluster-wide: meshinstall creates the namespaces it installs into, so Roles could not be bound in them beforehand.",
            "`meshinstall rbac ENV` prints them as a ClusterRole for that environment's spec (rules whose condition the spec",
            "does not meet are left out), and `meshinstall doctor ENV` (MI006) asks the API server about each one before",
            "anything is applied, naming every verb and resource that is missing.",
            "",
            "`escalate` and `bind` on roles are needed because the charts bring ClusterRoles (istiod's, the operator's) that",
            "grant rights the installer does not hold itself. Whoever holds them can grant any right: treat the identity as",
            "trusted with RBAC. What meshinstall never needs: `portforward`, node changes, or anything on objects of kinds it",
            "does not install.",
            "",
            *rows,
            "",
            "## A team's own `up`",
            "",
            "A team that owns its workloads (`paas.teams[].workloads`) runs `meshinstall up ENV --team T` with an identity of",
            "its own. `meshinstall rbac ENV --team T` prints a Role in the team's app namespace with these rules, and a",
            "RoleBinding to fill in; nothing in it is cluster-scoped, and it cannot grant rights (no `escalate`, no `bind`,",
            "no roles). The team's namespaces, quota, access and default-deny policies stay the platform's.",
            "",
            "| API group | resources | verbs | needed | why |",
            "|---|---|---|---|---|",
            *(
                f"| `{', '.join(g or 'core' for g in rule.groups)}` | {', '.join(rule.resources)} | {', '.join(rule.verbs)} | {rule.when} | {rule.why} |"
                for rule in TEAM_RULES
            ),
            "",
        ]
    )


if __name__ == "__main__":
    print(markdown(), end="")
