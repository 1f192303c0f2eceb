# The private bridge, the firewall rules that keep pod traffic on it, kernel settings.
# shellcheck shell=bash

STATE="$RUN/state"
# Nothing is forwarded between the bridge and any other interface, and nothing from another
# machine reaches the cluster's addresses: pod and API traffic stays on this machine.
FILTER_RULES=("FORWARD -i $BRIDGE ! -o $BRIDGE" "FORWARD -o $BRIDGE ! -i $BRIDGE"
  "INPUT -d $POD_CIDR ! -i $BRIDGE -m addrtype ! --src-type LOCAL")

save_host_state() {
  mkdir -p "$STATE"
  local s
  for s in "${SYSCTLS[@]}"; do
    [[ -e "/proc/sys/${s//.//}" ]] && echo "$s $(sysctl -n "$s")"
  done >"$STATE/sysctl.before"
  ls /var/run/netns 2>/dev/null | sort >"$STATE/netns.before" || true
}

restore_sysctls() {
  [[ -f "$STATE/sysctl.before" ]] || return 0
  local name value
  while read -r name value; do
    [[ "$(sysctl -n "$name" 2>/dev/null)" == "$value" ]] || sysctl -qw "$name=$value" || true
  done <"$STATE/sysctl.before"
}

bridge_up() {
  ip link show "$BRIDGE" >/dev/null 2>&1 && die "bridge $BRIDGE already exists; run 'test/k8s/cluster down' first"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  touch "$STATE/bridge"
  local r
  for r in "${FILTER_RULES[@]}"; do
    # shellcheck disable=SC2086
    iptables -I ${r%% *} 1 ${r#* } -m comment --comment molt-k8s -j DROP
  done
  sysctl -qw net.ipv4.ip_forward=1
  log "bridge $BRIDGE is $NODE_IP/24; traffic between it and other interfaces is dropped"
}

bridge_down() {
  local r dev
  for r in "${FILTER_RULES[@]}"; do
    # shellcheck disable=SC2086
    while iptables -D $r -m comment --comment molt-k8s -j DROP 2>/dev/null; do :; done
  done
  for dev in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$dev" 2>/dev/null || true
  done
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link delete "$BRIDGE"
  return 0
}

# Network namespaces containerd made for our pods (new cni-* ones since `up`).
our_netns() {
  [[ -f "$STATE/netns.before" ]] || return 0
  ls /var/run/netns 2>/dev/null | grep '^cni-' | sort | comm -23 - "$STATE/netns.before" || true
}

delete_netns() {
  local ns
  for ns in $(our_netns); do ip netns delete "$ns" 2>/dev/null || umount -l "/var/run/netns/$ns" 2>/dev/null || true; done
  return 0
}

# Chains named KUBE-* (kubelet canaries, kube-proxy leftovers) and rules jumping to them.
delete_kube_chains() {
  local cmd t line chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for t in filter nat mangle raw; do
      "$cmd" -t "$t" -S 2>/dev/null | grep -E '^-A [^ ]+ .*-j KUBE-' | while read -r line; do
        eval "$cmd -t $t ${line/#-A/-D}" 2>/dev/null || true
      done || true
      for chain in $("$cmd" -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
        "$cmd" -t "$t" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd" -t "$t" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}'); do
        "$cmd" -t "$t" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

delete_nft_tables() {
  local fam
  for fam in ip ip6 inet; do nft delete table "$fam" kube-proxy 2>/dev/null || true; done
}

flush_conntrack() {
  command -v conntrack >/dev/null || return 0
  conntrack -D -s "$POD_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$POD_CIDR" >/dev/null 2>&1 || true
  conntrack -D -d "$SERVICE_CIDR" >/dev/null 2>&1 || true
}
