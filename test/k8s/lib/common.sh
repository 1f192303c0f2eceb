# Shared settings and helpers for test/k8s/cluster. Sourced, not executed.
# shellcheck shell=bash

K8S_VERSION="${MOLT_K8S_VERSION:-v1.37.1}"
K8S_CACHE_ROOT="${MOLT_K8S_CACHE:-${HOME:-/root}/.cache/molt-k8s}"
K8S_CACHE="$K8S_CACHE_ROOT/$K8S_VERSION"
K8S_BIN="$K8S_CACHE/bin"
K8S_IMAGES="$K8S_CACHE_ROOT/images"
GO="${MOLT_GO:-$( [[ -x /usr/local/go/bin/go ]] && echo /usr/local/go/bin/go || command -v go || echo go)}"

# Everything a running cluster owns lives under RUN; `down` removes it.
RUN="${MOLT_K8S_RUN:-/var/lib/molt-k8s}"
PIDS="$RUN/pids"
PKI="$RUN/pki"
CONF="$RUN/conf"
LOGS="$RUN/logs"
CTRD_SOCK="$RUN/containerd/containerd.sock"
KUBECONFIG_ADMIN="$RUN/admin.kubeconfig"

# Network: a private bridge; the node, the apiserver and the kubelet live on its address.
BRIDGE="${MOLT_K8S_BRIDGE:-moltk8s0}"
NODE_IP="10.244.0.1"
POD_CIDR="10.244.0.0/16"
NODE_POD_CIDR="10.244.0.0/24"
SERVICE_CIDR="10.96.0.0/12"
SERVICE_API_IP="10.96.0.1"
NODE_NAME="molt-k8s-node"
APISERVER_PORT=6443
ETCD_CLIENT="127.0.0.1:22379"
ETCD_PEER="127.0.0.1:22380"
PAUSE_IMAGE="molt.local/pause:1"
STORAGE_CLASS="standard"
PROVISIONER_NAME="molt.local/hostpath"

# Binaries built from k8s.io/kubernetes (one `go build` for all of them).
K8S_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

# Kernel settings the kubelet and kube-proxy change; saved at `up`, restored by `down`.
# (net.ipv4.ip_forward is turned on and left on: Podman's networks on this machine need it too,
# and turning it off under them would cut their containers off.)
SYSCTLS=(net.ipv4.conf.all.route_localnet vm.overcommit_memory vm.panic_on_oom kernel.panic
  kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

log() { printf '[k8s %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[k8s] ERROR: %s\n' "$*" >&2; exit 1; }

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

kctl() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout=60s "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every half second.
wait_for() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  [[ -n "$what" ]] && log "$what"
  return 0
}
