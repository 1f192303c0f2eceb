# Test processes sharing the cluster register as users (acquire/release), so that one test
# file's `down` never pulls the cluster from under another that is still running.
# shellcheck shell=bash

USERS="$RUN/users"

# Live registered PIDs, one a line, "PID waiting" for those waiting to have the cluster to
# themselves (see mark_waiting); entries of dead processes are dropped.
live_users() {
  [[ -d "$USERS" ]] || return 0
  local f pid
  for f in "$USERS"/*; do
    [[ -e "$f" && "$f" != *.waiting ]] || continue
    pid="${f##*/}"
    if [[ -d "/proc/$pid" && "$(proc_starttime "$pid")" == "$(cat "$f")" ]]; then
      if [[ -e "$f.waiting" ]]; then echo "$pid waiting"; else echo "$pid"; fi
    else
      rm -f "$f" "$f.waiting"
    fi
  done
}

# A user that waits for all others to leave (to stop and restart the cluster) must not count
# for other such users, or two of them would wait for each other forever.
mark_waiting() {
  local pid="${1:?usage: mark-waiting PID}"
  [[ -f "$USERS/$pid" ]] || die "process $pid is not a registered user"
  touch "$USERS/$pid.waiting"
}

register_user() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]] || die "no such process: $pid"
  mkdir -p "$USERS"
  proc_starttime "$pid" >"$USERS/$pid"
}

# Refuse to stop a cluster that other live test processes still use, unless forced.
check_no_users() {
  local users
  users=$(live_users | tr '\n' ' ')
  [[ -z "$users" ]] && return 0
  die "the cluster is in use by test processes $users(registered through 'acquire'); use 'down --force' to stop it anyway"
}
