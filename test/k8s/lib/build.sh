# Build the Kubernetes server binaries from the Go module k8s.io/kubernetes.
# shellcheck shell=bash

build_marker() { echo "$K8S_BIN/.complete"; }

binaries_ready() { [[ -f "$(build_marker)" ]]; }

# The staging modules k8s.io/kubernetes replaces with ./staging/src/k8s.io/<m>.
staging_modules() {
  local gomod="$1"
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/k8s\.io/.*#\1#p' "$gomod" | sort -u
}

write_build_module() {
  local dir="$1" gomod="$2" minor="${K8S_VERSION#v1.}"
  local staging_version="v0.${minor}"
  {
    echo "module molt.local/k8sbuild"
    echo
    echo "go $(sed -n 's/^go \(.*\)/\1/p' "$gomod")"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    staging_modules "$gomod" | while read -r m; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >"$dir/go.mod"
  printf 'package k8sbuild\n' >"$dir/doc.go"
}

k8s_ldflags() {
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local f="-s -w" p
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    f+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$f"
}

# The build needs about 5 GB at its peak (module and build caches), 1.2 GB after.
check_disk() {
  mkdir -p "$K8S_CACHE"
  local free_kb; free_kb=$(df -Pk "$K8S_CACHE" | awk 'NR == 2 {print $4}')
  ((free_kb > 6 * 1024 * 1024)) || die "cold build needs ~6 GB free under $K8S_CACHE, only $((free_kb / 1024)) MB free"
}

build_binaries() {
  binaries_ready && { log "binaries for $K8S_VERSION already cached in $K8S_BIN"; return 0; }
  command -v "$GO" >/dev/null || die "Go not found at $GO (set MOLT_GO)"
  check_disk
  local mod="$K8S_CACHE/buildmod" t0; t0=$(now_s)
  mkdir -p "$mod" "$K8S_BIN"
  export GOMODCACHE="$K8S_CACHE_ROOT/gomod" GOCACHE="$K8S_CACHE/gobuild"
  export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
  log "cold build of Kubernetes $K8S_VERSION (go: $("$GO" env GOVERSION)); log: $K8S_CACHE/build.log"
  local gomod
  gomod=$(cd "$mod" && "$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [[ -f "$gomod" ]] || die "could not fetch k8s.io/kubernetes@$K8S_VERSION through the Go module proxy"
  write_build_module "$mod" "$gomod"
  local pkgs=() c
  for c in "${K8S_COMPONENTS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$mod" && "$GO" build -trimpath -ldflags "$(k8s_ldflags)" -o "$K8S_BIN/" "${pkgs[@]}") \
    >>"$K8S_CACHE/build.log" 2>&1 || die "go build failed, see $K8S_CACHE/build.log"
  local secs; secs=$(elapsed "$t0")
  echo "$secs" >"$K8S_CACHE/cold-build-seconds"
  touch "$(build_marker)"
  [[ "${MOLT_K8S_KEEP_GOCACHE:-0}" == 1 ]] || rm -rf "$GOCACHE"
  log "cold build finished in ${secs}s"
}
