# A real image registry for the tests: Debian's docker-registry (the CNCF distribution
# registry 2.8) with TLS and htpasswd (bcrypt) auth. `cluster up` starts it (its serving
# certificate signed by the cluster's CA) and the cluster's containerd trusts it; the local
# tests start it alone with `cluster registry up` (a CA of its own then). Stopped by PID.
# shellcheck shell=bash

REG_DIR="${MOLT_REGISTRY_RUN:-/var/lib/molt-registry}"
REG_PORT="${MOLT_REGISTRY_PORT:-5443}"
REG_USER="molt"
REG_USERS="$REG_DIR/users"
# Where Podman (and Docker) look for a registry's CA: <dir>/<host:port>/ca.crt.
REG_CERTS_DIRS=(/etc/containers/certs.d)

reg_pid_alive() {
  local pid start
  [[ -f "$REG_DIR/registry.pid" ]] || return 1
  read -r pid start <"$REG_DIR/registry.pid"
  [[ -d "/proc/$pid" && "$(proc_starttime "$pid")" == "$start" ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

# The names the registry answers to: the node's bridge address (pods and the node reach it
# there) and the loopback address (the local engine, when no cluster runs).
reg_hosts() { echo "$NODE_IP:$REG_PORT 127.0.0.1:$REG_PORT localhost:$REG_PORT"; }

# host:port for image references: the bridge address while the cluster's bridge exists.
reg_address() {
  if ip -4 addr show "$BRIDGE" 2>/dev/null | grep -q "inet $NODE_IP/"; then echo "$NODE_IP:$REG_PORT"; else echo "127.0.0.1:$REG_PORT"; fi
}

# reg_pki: the serving certificate, signed by the cluster's CA when it has one, else by a CA
# made for the registry alone. $REG_DIR/ca.crt is the CA clients must trust either way.
reg_pki() {
  local ca_crt="$PKI/ca.crt" ca_key="$PKI/ca.key" ext="$REG_DIR/tls.ext"
  if [[ ! -f "$ca_crt" || ! -f "$ca_key" ]]; then
    ca_crt="$REG_DIR/own-ca.crt" ca_key="$REG_DIR/own-ca.key"
    openssl ecparam -name prime256v1 -genkey -noout -out "$ca_key" 2>/dev/null
    openssl req -x509 -new -key "$ca_key" -subj "/CN=molt-registry-ca" -days 3650 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$ca_crt" 2>/dev/null
  fi
  cp "$ca_crt" "$REG_DIR/ca.crt"
  openssl genrsa -out "$REG_DIR/tls.key" 2048 2>/dev/null
  printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:$NODE_IP,IP:127.0.0.1,DNS:localhost" >"$ext"
  openssl req -new -key "$REG_DIR/tls.key" -subj "/CN=molt-registry" 2>/dev/null |
    openssl x509 -req -CA "$ca_crt" -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 3650 -extfile "$ext" -out "$REG_DIR/tls.crt" 2>/dev/null
  rm -f "$ext"
  chmod 600 "$REG_DIR/tls.key"
}

# A fresh password at every start; bcrypt entries (the only kind distribution accepts).
reg_credentials() {
  local password host auth
  password=$(openssl rand -hex 16)
  htpasswd -B -b -c "$REG_DIR/htpasswd" "$REG_USER" "$password" 2>/dev/null || die "htpasswd failed"
  auth=$(printf '%s:%s' "$REG_USER" "$password" | base64 -w0)
  {
    printf '{"auths": {'
    local first=1
    for host in $(reg_hosts); do
      ((first)) || printf ', '
      first=0
      printf '"%s": {"auth": "%s"}' "$host" "$auth"
    done
    printf '}}\n'
  } >"$REG_DIR/auth.json"
  chmod 600 "$REG_DIR/auth.json" "$REG_DIR/htpasswd"
  printf '%s\n' "$password" >"$REG_DIR/password" && chmod 600 "$REG_DIR/password"
}

reg_config() {
  cat >"$REG_DIR/config.yml" <<YAML
version: 0.1
log: {level: info, fields: {service: molt-test-registry}}
storage:
  filesystem: {rootdirectory: $REG_DIR/data}
  delete: {enabled: true}
  cache: {blobdescriptor: inmemory}
http:
  addr: 0.0.0.0:$REG_PORT
  tls: {certificate: $REG_DIR/tls.crt, key: $REG_DIR/tls.key}
  headers: {X-Content-Type-Options: [nosniff]}
auth:
  htpasswd: {realm: molt-registry, path: $REG_DIR/htpasswd}
YAML
}

# Nothing from another machine reaches the registry (it listens on every address so that the
# node, its pods and the local engine all reach it).
REG_FILTER="INPUT -p tcp --dport $REG_PORT -m addrtype ! --src-type LOCAL ! -s $POD_CIDR"

reg_firewall() {
  local op="$1"
  # shellcheck disable=SC2086
  if [[ "$op" == add ]]; then iptables -I ${REG_FILTER%% *} 1 ${REG_FILTER#* } -m comment --comment molt-registry -j DROP
  else while iptables -D $REG_FILTER -m comment --comment molt-registry -j DROP 2>/dev/null; do :; done; fi
}

# Podman and Docker trust the registry's CA through certs.d/<host:port>/ca.crt.
reg_trust() {
  local op="$1" dir host
  for dir in "${REG_CERTS_DIRS[@]}"; do
    for host in $(reg_hosts); do
      if [[ "$op" == add ]]; then mkdir -p "$dir/$host" && cp "$REG_DIR/ca.crt" "$dir/$host/ca.crt"
      else rm -rf "${dir:?}/$host"; fi
    done
  done
}

registry_ready() {
  curl -sS --max-time 5 --cacert "$REG_DIR/ca.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$REG_PORT/v2/" 2>/dev/null | grep -qx 401
}

reg_deps() {
  command -v docker-registry >/dev/null && command -v htpasswd >/dev/null && return 0
  [[ "$(id -u)" == 0 ]] || die "docker-registry and htpasswd are missing: apt-get install docker-registry apache2-utils"
  log "installing from Debian: docker-registry apache2-utils"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    docker-registry apache2-utils >&2 || die "apt-get install docker-registry apache2-utils failed"
}

# registry_up: start it unless it runs; prints "# started: yes|no" and the env.
registry_up() {
  if reg_pid_alive; then echo "# started: no (already up)"; registry_env; return 0; fi
  [[ -d "$REG_DIR" ]] && registry_down_now
  reg_deps
  mkdir -p "$REG_DIR/data" "$REG_USERS" && chmod 700 "$REG_DIR"
  reg_pki
  reg_credentials
  reg_config
  reg_trust add
  reg_firewall add
  setsid docker-registry serve "$REG_DIR/config.yml" </dev/null >>"$REG_DIR/registry.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid $(proc_starttime "$pid")" >"$REG_DIR/registry.pid"
  local i
  for ((i = 0; i < 60; i++)); do
    registry_ready && break
    reg_pid_alive || { tail -20 "$REG_DIR/registry.log" >&2; die "docker-registry exited; log: $REG_DIR/registry.log"; }
    sleep 0.25
  done
  registry_ready || { tail -20 "$REG_DIR/registry.log" >&2; registry_down_now; die "docker-registry did not answer on :$REG_PORT"; }
  log "registry up at $(reg_address) (pid $pid, data $REG_DIR/data)"
  echo "# started: yes"
  registry_env
}

registry_env() {
  echo "export MOLT_REGISTRY=$(reg_address)"
  echo "export MOLT_REGISTRY_CA=$REG_DIR/ca.crt"
  echo "export MOLT_REGISTRY_AUTH=$REG_DIR/auth.json"
}

# Stops the registry by its PID and removes everything it made (data included).
registry_down_now() {
  local pid start i
  if reg_pid_alive; then
    read -r pid start <"$REG_DIR/registry.pid"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do reg_pid_alive || break; sleep 0.25; done
    reg_pid_alive && kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 20; i++)); do reg_pid_alive || break; sleep 0.25; done
    log "stopped the registry (pid $pid)"
  fi
  reg_firewall delete
  reg_trust delete
  rm -rf --one-file-system "$REG_DIR"
}

# Users of a registry started alone (local tests), like the cluster's: the last one out stops it.
registry_live_users() {
  local f pid
  for f in "$REG_USERS"/*; do
    [[ -e "$f" ]] || continue
    pid="${f##*/}"
    if [[ -d "/proc/$pid" && "$(proc_starttime "$pid")" == "$(cat "$f")" ]]; then echo "$pid"; else rm -f "$f"; fi
  done
}

registry_acquire() {
  local pid="${1:?usage: registry acquire PID}" out
  [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]] || die "no such process: $pid"
  out=$(registry_up)
  [[ "$out" == *"# started: yes"* ]] && ! cluster_running && touch "$REG_DIR/started-alone"
  proc_starttime "$pid" >"$REG_USERS/$pid"
  echo "$out"
}

# registry_release PID: the last user out stops a registry started alone (never the cluster's).
registry_release() {
  local pid="${1:?usage: registry release PID}"
  rm -f "$REG_USERS/$pid"
  if [[ -n "$(registry_live_users)" ]]; then echo "# stopped: no (other users)"
  elif [[ ! -f "$REG_DIR/started-alone" ]]; then echo "# stopped: no (not started alone)"
  elif cluster_running; then echo "# stopped: no (the cluster uses it)"
  else registry_down_now && echo "# stopped: yes"
  fi
}

cmd_registry() {
  local sub="${1:-}"; shift || true
  case "$sub" in
    up) registry_up ;;
    down)
      if cluster_running && [[ "${1:-}" != --force ]]; then die "the cluster uses the registry; 'cluster down' stops both (or: registry down --force)"; fi
      registry_down_now ;;
    acquire) registry_acquire "$@" ;;
    release) registry_release "$@" ;;
    env) reg_pid_alive || log "warning: the registry is not up (run: test/k8s/cluster registry up)"; registry_env ;;
    status) if reg_pid_alive; then echo "registry: up at $(reg_address)"; else echo "registry: down"; return 1; fi ;;
    *) die "usage: registry up|down [--force]|env|status|acquire PID|release PID" ;;
  esac
}
