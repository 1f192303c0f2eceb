# Start daemons detached and stop exactly those, by the PIDs recorded at start.
# shellcheck shell=bash

proc_starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# A recorded PID still names our process if its start time is unchanged and it is no zombie.
pid_alive() {
  local name="$1" pid start
  [[ -f "$PIDS/$name.pid" ]] || return 1
  read -r pid start <"$PIDS/$name.pid"
  [[ -d "/proc/$pid" && "$(proc_starttime "$pid")" == "$start" ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}

# start_daemon NAME CMD...: detached from this shell (own session, stdio to a log).
start_daemon() {
  local name="$1"; shift
  mkdir -p "$PIDS" "$LOGS"
  # fd 9 is the cluster lock held by `up`: the daemon must not inherit it.
  setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid $(proc_starttime "$pid")" >"$PIDS/$name.pid"
  echo "$name" >>"$PIDS/order"
  log "started $name (pid $pid, log $LOGS/$name.log)"
}

stop_daemon() {
  local name="$1" pid start i
  pid_alive "$name" || { rm -f "$PIDS/$name.pid"; return 0; }
  read -r pid start <"$PIDS/$name.pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do pid_alive "$name" || break; sleep 0.25; done
  if pid_alive "$name"; then
    log "$name (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    # A killed process is gone once the kernel has freed its memory: seconds for a large one
    # (kube-apiserver) on a loaded machine.
    for ((i = 0; i < 120; i++)); do pid_alive "$name" || break; sleep 0.25; done
  fi
  pid_alive "$name" && die "could not stop $name (pid $pid)"
  rm -f "$PIDS/$name.pid"
  log "stopped $name (pid $pid)"
}

# Daemons in reverse start order.
started_daemons() { [[ -f "$PIDS/order" ]] && tac "$PIDS/order" | awk '!seen[$0]++'; }

show_log() {
  printf -- '----- last lines of %s -----\n' "$LOGS/$1.log" >&2
  tail -n "${2:-30}" "$LOGS/$1.log" >&2 || true
}

require_alive() {
  pid_alive "$1" && return 0
  show_log "$1"
  die "$1 exited during start-up; log: $LOGS/$1.log"
}

# wait_up NAME SECONDS CHECK...: wait until CHECK passes; fail at once if daemon NAME exits.
wait_up() {
  local name="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    require_alive "$name"
    ((SECONDS < deadline)) || { show_log "$name" 60; die "$name was not ready within ${secs}s"; }
    sleep 0.3
  done
  log "$name is ready"
}
