# `cluster operator`: the molt operator of this checkout on the cluster — its image built by
# deploy/image/build, pushed to the test registry, installed with `kubectl apply -k deploy/`
# (the image set, pulled with an imagePullSecret of the operator's ServiceAccount, the
# registry's CA trusted through NODE_EXTRA_CA_CERTS), waiting until it is rolled out.
# shellcheck shell=bash

OPERATOR_NS=molt-system

cmd_operator() {
  cluster_running || die "the cluster is not up (run: test/k8s/cluster up)"
  reg_pid_alive || registry_up >/dev/null
  local repo work ref tar rev
  repo="$(cd "$K8S_DIR/../.." && pwd)"
  rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo dev)
  ref="$(reg_address)/molt/operator:$rev-$(date +%s)"
  work=$(mktemp -d)
  tar=$(MOLT_OPERATOR_IMAGE="$ref" "$repo/deploy/image/build" "$work/operator.tar")
  local storage=(--root "$work/root" --runroot "$work/runroot" --cgroup-manager cgroupfs --events-backend file)
  podman "${storage[@]}" load -q -i "$tar" >/dev/null || die "podman load $tar failed"
  podman "${storage[@]}" push -q --authfile "$REG_DIR/auth.json" "$ref" >&2 || die "podman push $ref failed"
  podman "${storage[@]}" rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$work"
  log "pushed $ref"
  kctl kustomize "$repo/deploy" | sed "s#image: localhost/molt-operator:dev#image: $ref#" | kctl apply --server-side --force-conflicts -f - >/dev/null
  kctl -n "$OPERATOR_NS" create secret docker-registry molt-registry-pull --docker-server="$(reg_address)" \
    --docker-username="$REG_USER" --docker-password="$(cat "$REG_DIR/password")" --dry-run=client -o yaml | kctl apply -f - >/dev/null
  kctl -n "$OPERATOR_NS" create configmap molt-registry-ca --from-file=ca.crt="$REG_DIR/ca.crt" --dry-run=client -o yaml | kctl apply -f - >/dev/null
  kctl -n "$OPERATOR_NS" patch serviceaccount molt-operator --type merge -p '{"imagePullSecrets":[{"name":"molt-registry-pull"}]}' >/dev/null
  kctl -n "$OPERATOR_NS" patch deployment molt-operator --type strategic -p "$(operator_ca_patch)" >/dev/null
  kctl -n "$OPERATOR_NS" rollout status deploy/molt-operator --timeout=180s >&2 || die "the operator did not roll out"
  log "operator $ref is ready in $OPERATOR_NS"
  echo "$ref"
}

# The registry's CA for the operator (label reads): a ConfigMap volume and MOLT_REGISTRY_CA.
operator_ca_patch() {
  cat <<JSON
{"spec": {"template": {"spec": {
  "volumes": [{"name": "registry-ca", "configMap": {"name": "molt-registry-ca"}}],
  "containers": [{"name": "manager",
    "env": [{"name": "MOLT_REGISTRY_CA", "value": "/etc/molt/registry-ca/ca.crt"}],
    "volumeMounts": [{"name": "registry-ca", "mountPath": "/etc/molt/registry-ca", "readOnly": true}]}]}}}}
JSON
}
