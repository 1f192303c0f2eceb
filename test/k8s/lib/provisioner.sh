#!/usr/bin/env bash
# A tiny dynamic provisioner for the StorageClass "standard": every pending claim of that
# class gets a hostPath PersistentVolume made for it (pre-bound through claimRef); released
# volumes it made are deleted with their data. Started by `cluster up`, stopped by `down`.
# Usage: provisioner.sh KUBECTL KUBECONFIG DATA_DIR CLASS PROVISIONER NODE
set -euo pipefail

KUBECTL="$1" KCFG="$2" DATA="$3" CLASS="$4" PROV="$5" NODE="$6"
k() { "$KUBECTL" --kubeconfig "$KCFG" --request-timeout=20s "$@"; }
say() { printf '%s provisioner: %s\n' "$(date +%H:%M:%S)" "$*"; }

pending_claims() {
  k get pvc -A -o json | jq -c --arg class "$CLASS" '.items[]
    | select(.status.phase == "Pending" and (.spec.volumeName // "") == ""
             and .spec.storageClassName == $class and (.metadata.deletionTimestamp == null))
    | {ns: .metadata.namespace, name: .metadata.name, uid: .metadata.uid,
       size: .spec.resources.requests.storage, modes: .spec.accessModes,
       mode: (.spec.volumeMode // "Filesystem")}'
}

pv_manifest() {
  jq -c --arg class "$CLASS" --arg prov "$PROV" --arg data "$DATA" --arg node "$NODE" '{
    apiVersion: "v1", kind: "PersistentVolume",
    metadata: {name: ("pvc-" + .uid), annotations: {"pv.kubernetes.io/provisioned-by": $prov}},
    spec: {capacity: {storage: .size}, accessModes: .modes, volumeMode: .mode,
      storageClassName: $class, persistentVolumeReclaimPolicy: "Delete",
      claimRef: {apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: .ns, name: .name, uid: .uid},
      hostPath: {path: ($data + "/pvc-" + .uid), type: "DirectoryOrCreate"},
      nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [
        {key: "kubernetes.io/hostname", operator: "In", values: [$node]}]}]}}}}'
}

provision() {
  local claim uid
  while read -r claim; do
    [[ -n "$claim" ]] || continue
    uid=$(jq -r .uid <<<"$claim")
    # 2777: any pod user may write at once, and files take the directory's group — which
    # apply_fs_groups sets to the fsGroup of the pods that mount it, as real storage's
    # ownership management does (hostPath volumes get none from the kubelet).
    mkdir -p "$DATA/pvc-$uid" && chmod 2777 "$DATA/pvc-$uid"
    if pv_manifest <<<"$claim" | k create -f - >/dev/null 2>&1; then
      say "made pvc-$uid for $(jq -r '.ns + "/" + .name' <<<"$claim")"
    fi
  done < <(pending_claims)
}

reclaim() {
  local pv
  for pv in $(k get pv -o json | jq -r --arg prov "$PROV" '.items[]
      | select(.metadata.annotations["pv.kubernetes.io/provisioned-by"] == $prov
               and (.status.phase == "Released" or .status.phase == "Failed")) | .metadata.name'); do
    k delete pv "$pv" --wait=false >/dev/null 2>&1 || continue
    rm -rf --one-file-system "${DATA:?}/$pv"
    say "deleted released $pv"
  done
}

# fsGroup as real storage honours it: the volume's files get the group of the pods that mount
# it (chgrp -R), group read/write, and setgid directories — done once per (volume, group).
apply_fs_groups() {
  local pv group dir
  while read -r pv group; do
    dir="$DATA/$pv"
    [[ -n "$pv" && -d "$dir" && "$(stat -c %g "$dir")" != "$group" ]] || continue
    chgrp -R "$group" "$dir" && chmod -R g+rwX "$dir" && find "$dir" -type d -exec chmod g+s {} + &&
      say "fsGroup $group applied to $pv"
  done < <(k get pods,pvc -A -o json | jq -r '
      ([.items[] | select(.kind == "PersistentVolumeClaim") | {key: (.metadata.namespace + "/" + .metadata.name), value: (.spec.volumeName // "")}] | from_entries) as $pv
      | .items[] | select(.kind == "Pod" and .spec.securityContext.fsGroup != null)
      | .metadata.namespace as $ns | .spec.securityContext.fsGroup as $g
      | .spec.volumes[]? | select(.persistentVolumeClaim != null)
      | $pv[$ns + "/" + .persistentVolumeClaim.claimName] // "" | select(startswith("pvc-")) | "\(.) \($g)"')
}

# Block until a claim changes or 3 s pass (pods are looked at for fsGroup on every pass).
WATCH_PID=""
wait_for_change() {
  local fd
  exec {fd}< <(exec "$KUBECTL" --kubeconfig "$KCFG" get pvc -A --watch-only -o name 2>/dev/null)
  WATCH_PID=$!
  read -r -t 3 -u "$fd" _ || true
  kill "$WATCH_PID" 2>/dev/null || true
  exec {fd}<&-
  wait "$WATCH_PID" 2>/dev/null || true
  WATCH_PID=""
}

stop() {
  [[ -n "$WATCH_PID" ]] && kill "$WATCH_PID" 2>/dev/null
  say "stopping"
  exit 0
}
trap stop TERM INT
mkdir -p "$DATA"
say "watching claims of class $CLASS"
while true; do
  provision || say "provision pass failed; retrying"
  reclaim || say "reclaim pass failed; retrying"
  apply_fs_groups || say "fsGroup pass failed; retrying"
  wait_for_change
done
