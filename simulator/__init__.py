"""The simulated cluster: a real Kubernetes control plane on loopback whose nodes, pods and load balancers KWOK fakes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real binaries; KWOK plays the kubelets
(pods Running and Ready, Job pods Completed) and the cloud's load balancer (every `LoadBalancer` Service gets a
127.0.x.y address, as cloud-provider-kind gives one on kind). No container runs and no traffic flows. This package
only manages processes and files; `components/simulated_cluster.py` makes it a resource of the Pulumi graph.

Why our own process manager and not kwokctl (`sigs.k8s.io/kwok/cmd/kwokctl` v0.7.0, binary runtime), read from its
source (`pkg/kwokctl/runtime/binary`, `pkg/kwokctl/components`):

- It can: start etcd, kube-apiserver, controller-manager, scheduler and kwok from local binaries (`--*-binary`
  takes a path, symlinked into its workdir), on given ports; stop and start them again on the same etcd data
  (`kwokctl stop|start cluster`); add flags through `componentsPatches` (`extraArgs`); hand Stages to its kwok.
- It cannot, which decided it: wait for the API server without a `kubectl` binary (it runs `kubectl get --raw
  /version`, by default downloaded from dl.k8s.io), and it is one more binary to build and pin; create nodes of
  the spec's capacity (`kwokctl scale node` uses its own template, so `sync_nodes` stays ours anyway); tell a live
  process from a reused pid after a reboot (it sends signal 0; we check that `/proc/<pid>` runs that binary with
  our arguments); switch off only the webhook admission plugins (`--kube-admission=false` passes an empty
  `--admission-control=`, our flag would be a patch); keep our state layout (its own PKI and client-certificate
  kubeconfig, `~/.kwok/clusters/<name>`, a saved `kwok.yaml` of its version's schema), so existing clusters
  would need a migration.

It would replace about 150 lines of plain subprocess code with a second tool whose flags and files change between
versions, for no behaviour we lack.
"""

from __future__ import annotations

from .local_control_plane import ControlPlaneError, LocalClusterConfig, LocalControlPlane

__all__ = ["ControlPlaneError", "LocalClusterConfig", "LocalControlPlane"]
