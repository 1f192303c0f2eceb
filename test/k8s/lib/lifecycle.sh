# up / down / status building blocks.
# shellcheck shell=bash

# command:package pairs `up` needs from Debian.
DEB_DEPS=(etcd:etcd-server containerd:containerd ctr:containerd runc:runc
  /usr/lib/cni/bridge:containernetworking-plugins /usr/lib/cni/host-local:containernetworking-plugins
  conntrack:conntrack iptables:iptables nft:nftables jq:jq curl:curl openssl:openssl gcc:gcc
  /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev static_busybox:busybox-static ip:iproute2
  mount:mount setsid:util-linux docker-registry:docker-registry htpasswd:apache2-utils)

have() {
  if [[ "$1" == /* ]]; then [[ -e "$1" ]]
  elif [[ "$(type -t "$1")" == function ]]; then "$1"
  else command -v "$1" >/dev/null; fi
}

install_deps() {
  local pair missing=()
  for pair in "${DEB_DEPS[@]}"; do have "${pair%%:*}" || missing+=("${pair##*:}"); done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing from Debian: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local lock=(-o DPkg::Lock::Timeout=600)
  apt-get "${lock[@]}" update -qq >&2 || die "apt-get update failed"
  apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}

preflight() {
  [[ "$(id -u)" == 0 ]] || die "must run as root (it creates a bridge, mounts and cgroups)"
  [[ "$(uname -m)" == x86_64 ]] || die "only x86_64 is supported"
  install_deps
}

daemons_alive() {
  [[ -f "$PIDS/order" ]] || return 1
  local name
  for name in $(started_daemons); do pid_alive "$name" || return 1; done
}

cluster_running() { daemons_alive && api_ready; }

bootstrap_objects() {
  kctl apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: $PROVISIONER_NAME
reclaimPolicy: Delete
volumeBindingMode: Immediate
YAML
}

start_provisioner() {
  start_daemon provisioner "$K8S_DIR/lib/provisioner.sh" "$K8S_BIN/kubectl" "$KUBECONFIG_ADMIN" \
    "$RUN/pv" "$STORAGE_CLASS" "$PROVISIONER_NAME" "$NODE_NAME"
}

node_ready() {
  kctl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' | grep -qx True
}

default_sa_exists() { kctl -n default get serviceaccount default; }

wait_until_usable() {
  wait_up kubelet 180 node_ready
  wait_for 120 "default ServiceAccount exists" default_sa_exists ||
    { show_log kube-controller-manager; die "no default ServiceAccount; see $LOGS/kube-controller-manager.log"; }
}

# Kill every pod container through containerd, so shims and network namespaces go away.
kill_pods() {
  pid_alive containerd || return 0
  local id
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  sleep 0.5
  for id in $(ctr_k8s tasks ls -q 2>/dev/null); do ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true; done
  for id in $(ctr_k8s containers ls -q 2>/dev/null); do ctr_k8s containers rm "$id" >/dev/null 2>&1 || true; done
}

# Processes our daemons left behind: containerd shims (they name our socket) and anything
# still in the kubelet's pod cgroups.
leftover_pids() {
  local p exe
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    [[ "${exe##*/}" == containerd-shim* ]] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$CTRD_SOCK" && echo "${p#/proc/}"
  done
  find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null || true
}

kill_leftovers() {
  local pids i
  for ((i = 0; i < 20; i++)); do
    pids=$(leftover_pids | sort -u | tr '\n' ' ')
    [[ -z "${pids// /}" ]] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.25
  done
  log "warning: processes still alive: $pids"
}

our_mounts() { awk -v r="$RUN/" 'index($5, r) == 1 || $5 == substr(r, 1, length(r) - 1) {print $5}' /proc/self/mountinfo | sort -r; }

unmount_all() {
  local m
  for m in $(our_mounts); do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  [[ -z "$(our_mounts)" ]] || log "warning: mounts left under $RUN: $(our_mounts | tr '\n' ' ')"
}

remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$d" ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

stop_all_daemons() {
  local name
  stop_daemon provisioner
  stop_daemon kube-proxy
  stop_daemon kubelet
  kill_pods
  for name in $(started_daemons); do stop_daemon "$name"; done
}

clean_host() {
  kill_leftovers
  [[ -x "$K8S_BIN/kube-proxy" ]] && "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  delete_nft_tables
  delete_kube_chains
  delete_netns
  unmount_all
  bridge_down
  remove_cgroups
  flush_conntrack
  restore_sysctls
}
