"""The Pulumi program and its inputs: the program itself, the Helm releases and their values, the mesh upgrade's plan,
the Gateway API CRDs' plan, and the RBAC rules the identity running it needs."""
