#!/bin/sh
# keepalived's notify hook for a proxygw gateway (docs/ha.md): tells
# conntrackd and the proxygw engine this node's role.
#
#   proxygw-notify.sh [-c CONNTRACKD_CONF] [-p PROXYGW_CONFIG | -s CTL_SOCKET]
#                     [-d RUN_DIR] [-l LOG] [-x PROXYGWCTL] TYPE NAME STATE PRIORITY
#
# keepalived appends TYPE NAME STATE PRIORITY to the notify line's own
# arguments. Per state:
#   MASTER  conntrackd: commit the peer's flows to the kernel (-c) first, so
#           that established flows go on at once, then flush the caches (-f),
#           resync with the kernel (-R) and send everything to the peer (-B);
#           then `proxygwctl role master`: followed targets become active.
#   BACKUP  `proxygwctl role backup` first (the engine stops deciding at once),
#           then conntrackd: shorten the kernel's timers (-t), ask the master
#           for a resync (-n).
#   FAULT   `proxygwctl role fault`, then conntrackd -t.
#   STOP    (keepalived stops, its addresses go) as FAULT.
# `proxygwctl role` is retried for up to 30 s (the engine may be starting);
# the engine records the role, so a restarted engine keeps it.
# keepalived does not wait for one notify to end before it runs the next, so
# runs take turns (flock on RUN_DIR/lock, default /run/proxygw-notify), and
# the role told to the engine is always the latest state keepalived gave
# (RUN_DIR/state), not an older one a slow run still carries.
set -u
conntrackd_conf=/etc/conntrackd/conntrackd.conf
ctl_args=""
log=""
run_dir=/run/proxygw-notify
proxygwctl=proxygwctl
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
while getopts c:p:s:d:l:x: opt; do
  case $opt in
    c) conntrackd_conf=$OPTARG ;;
    p) ctl_args="--config $OPTARG" ;;
    s) ctl_args="--socket $OPTARG" ;;
    d) run_dir=$OPTARG ;;
    l) log=$OPTARG ;;
    x) proxygwctl=$OPTARG ;;
    *) echo "usage: $0 [-c conntrackd.conf] [-p proxygw.yaml | -s ctl.sock] [-d run_dir] [-l log] [-x proxygwctl] TYPE NAME STATE PRIORITY" >&2
       exit 2 ;;
  esac
done
shift $((OPTIND - 1))
state=${3:-}

say() {
  if [ -n "$log" ]; then echo "$(date +%s.%N) $*" >> "$log"; fi
  logger -t proxygw-notify -- "$*" 2>/dev/null || true
}

ct() {
  conntrackd -C "$conntrackd_conf" "$@" || say "conntrackd $* failed (exit $?)"
}

# The latest state keepalived gave, as the engine's role.
role() {
  case $(cat "$run_dir/state") in
    MASTER) want=master ;;
    BACKUP) want=backup ;;
    *) want=fault ;;
  esac
  tries=0
  # shellcheck disable=SC2086 # ctl_args is two words
  until out=$("$proxygwctl" $ctl_args --timeout 2s role "$want" 2>&1); do
    tries=$((tries + 1))
    say "proxygwctl role $want (try $tries): $out"
    if [ "$tries" -ge 30 ]; then
      say "proxygwctl role $want failed: $out"
      return 1
    fi
    sleep 1
  done
  say "proxygwctl role $want: $out"
}

case $state in
  MASTER | BACKUP | FAULT | STOP) ;;
  *) say "unknown state '$state', ignored"; exit 0 ;;
esac
mkdir -p "$run_dir"
echo "$state" > "$run_dir/state.tmp" && mv "$run_dir/state.tmp" "$run_dir/state"
exec 9>"$run_dir/lock"
flock 9
say "$state"
case $state in
  MASTER) ct -c; ct -f; ct -R; ct -B; role ;;
  BACKUP) role; ct -t; ct -n ;;
  FAULT | STOP) role; ct -t ;;
esac
say "$state done"
