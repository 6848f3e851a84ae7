"""The cluster: which one an environment runs on (target), the one Kubernetes client (kube), CRDs, restarts of
Deployments, and what a dead run left in it (recovery)."""
