"""The stack of an environment, in four rooms: `program` (the Pulumi program and its inputs), `engine` (driving
Pulumi through the Automation API), `state` (where the state lives, its lock and passphrase) and `cluster` (which
cluster, the one Kubernetes client, CRDs, restarts, Helm recovery)."""
