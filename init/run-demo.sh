#!/bin/bash
# `make run`: proxygw on configs/example.yaml, in a network namespace of its
# own joined to this host by a veth pair, so that the host's firewall and
# routes are never changed by a demo. Run as root, in the foreground; Ctrl-C
# stops the gateway and removes the namespace (and with it the veth pair and
# proxygw's nftables table).
set -euo pipefail
BUILD=${BUILD:-build}
CONFIG=${CONFIG:-configs/example.yaml}
NS=proxygw-demo
HOST_IF=pgw-demo0
NS_IF=pgw-demo1
HOST_ADDR=198.18.255.1
NS_ADDR=198.18.255.2

if [ "$(id -u)" != 0 ]; then
  echo "make run: run it as root (it creates users, a network namespace and a veth pair)" >&2
  exit 1
fi
if ip netns list | grep -qw "$NS"; then
  echo "make run: namespace $NS exists (another make run?); remove it with: ip netns del $NS" >&2
  exit 1
fi

# The two users proxygw's processes run as (as systemd-sysusers would create them).
for user in proxygw proxygw-netd; do
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    echo "make run: created system user $user"
  fi
done

supervisor=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$supervisor" ] && kill -0 "$supervisor" 2>/dev/null; then
    # Ctrl-C reached the supervisor too; give it time to stop things in order.
    for _ in $(seq 1 300); do kill -0 "$supervisor" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$supervisor" 2>/dev/null || true
  fi
  # Whatever still runs in the namespace is ours (a backend the engine
  # started); a namespace with processes in it would outlive `ip netns del`.
  for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$RUNDIR"
  echo "make run: stopped; namespace $NS removed"
}
trap cleanup EXIT
trap 'kill -TERM "$supervisor" 2>/dev/null; exit 130' TERM
trap 'exit 130' INT

# The engine reads its config as user proxygw, which may not see this checkout:
# run on a copy it can read.
RUNDIR=/run/proxygw-demo
mkdir -p "$RUNDIR"
install -m 0644 "$CONFIG" "$RUNDIR/proxygw.yaml"

ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
ip addr add "$HOST_ADDR/30" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip -n "$NS" addr add "$NS_ADDR/30" dev "$NS_IF"
ip -n "$NS" link set "$NS_IF" up
ip -n "$NS" link set lo up

cat <<MSG
make run: proxygw runs in network namespace $NS ($NS_ADDR), reachable from this host.
  Open http://$NS_ADDR:8080/ (curl http://$NS_ADDR:8080/): the first visit gets the
  "starting" page and wakes the backend; reload a few seconds later to reach it.
  Status:  $BUILD/proxygwctl --config $CONFIG status --output table
  Ctrl-C stops everything and removes the namespace.
MSG

ip netns exec "$NS" "$BUILD/proxygw" --config "$RUNDIR/proxygw.yaml" &
supervisor=$!
wait "$supervisor"
