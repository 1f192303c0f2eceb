# Local images: a static pause binary, busybox, and loading image archives into containerd.
# shellcheck shell=bash

ctr_k8s() { ctr --address "$CTRD_SOCK" --namespace k8s.io "$@"; }

# image_archive ROOTFS NAME:TAG OUT.tar ENTRYPOINT_JSON CMD_JSON: a docker-archive of one layer.
image_archive() {
  local rootfs="$1" ref="$2" out="$3" entry="$4" cmd="$5" work
  work=$(mktemp -d)
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$work/layer.tar" .
  local diff; diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
  mkdir "$work/$diff" && mv "$work/layer.tar" "$work/$diff/layer.tar"
  cat >"$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
           "Entrypoint":$entry,"Cmd":$cmd},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"molt test/k8s"}]}
JSON
  local cfg; cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
  mv "$work/config.json" "$work/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$cfg" "$ref" "$diff" >"$work/manifest.json"
  tar --owner=0 --group=0 --numeric-owner -C "$work" -cf "$out.tmp" manifest.json "$cfg.json" "$diff"
  mv "$out.tmp" "$out"
  rm -rf "$work"
}

pause_source() {
  cat <<'C'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
static void quit(int s) { (void)s; _exit(0); }
int main(void) {
  signal(SIGINT, quit);
  signal(SIGTERM, quit);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
C
}

# The sandbox ("pause") image, compiled with gcc -static into the cache.
pause_image_tar() {
  local out="$K8S_IMAGES/pause.tar"
  [[ -s "$out" ]] && { echo "$out"; return 0; }
  mkdir -p "$K8S_IMAGES"
  local work; work=$(mktemp -d)
  pause_source >"$work/pause.c"
  mkdir "$work/rootfs"
  gcc -static -Os -s -o "$work/rootfs/pause" "$work/pause.c" || die "gcc -static failed for the pause image"
  image_archive "$work/rootfs" "$PAUSE_IMAGE" "$out" '["/pause"]' 'null'
  rm -rf "$work"
  echo "$out"
}

# Debian's busybox-static, not the dynamically linked `busybox` package (no loader in the image).
static_busybox() {
  [[ -x /bin/busybox ]] && /bin/busybox --list >/dev/null 2>&1 &&
    [[ "$(readelf -l /bin/busybox 2>/dev/null)" != *INTERP* ]]
}

# busybox_image_tar NAME:TAG OUT.tar: busybox-static from Debian as a one-layer image.
busybox_image_tar() {
  local ref="$1" out="$2" bb=/bin/busybox work
  static_busybox || die "/bin/busybox is not the static one: apt-get install busybox-static"
  work=$(mktemp -d)
  mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/data" "$work/rootfs/etc"
  cp "$bb" "$work/rootfs/bin/busybox"
  local app
  for app in $("$bb" --list); do [[ "$app" == busybox ]] || ln -s busybox "$work/rootfs/bin/$app"; done
  chmod 1777 "$work/rootfs/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
  image_archive "$work/rootfs" "$ref" "$out" 'null' '["sh"]'
  rm -rf "$work"
}

# load_image TAR|PODMAN_IMAGE...: import into the cluster's containerd (namespace k8s.io).
load_image() {
  local src tmp
  [[ -S "$CTRD_SOCK" ]] || die "the cluster is not up (no containerd socket at $CTRD_SOCK)"
  for src in "$@"; do
    if [[ -f "$src" ]]; then
      ctr_k8s images import --snapshotter overlayfs "$src" >&2 || die "could not import $src"
    else
      command -v podman >/dev/null || die "$src is no file and podman is not installed"
      tmp=$(mktemp --suffix=.tar)
      rm -f "$tmp"
      podman save --format docker-archive -o "$tmp" "$src" >&2 || die "podman save $src failed"
      ctr_k8s images import --snapshotter overlayfs "$tmp" >&2 || die "could not import $src"
      rm -f "$tmp"
    fi
    log "loaded image $src"
  done
}
