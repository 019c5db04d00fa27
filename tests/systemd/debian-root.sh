#!/bin/sh
# The Debian 12 root that tests/integration/test_systemd.py boots with
# systemd-nspawn: systemd, the system bus, polkit, the tools a user has, and the
# runtime libraries of proxygw's binaries (never our own files: the test
# installs them into an overlay with `make install DESTDIR=...`).
#
#   debian-root.sh --path   prints where the cached root is (or would be)
#   debian-root.sh          builds it there unless it is present (as root;
#                           debootstrap, ~2 minutes, ~300 MB); `make deps`
#                           calls this
#
# The path carries a hash of the package list, so changing the list builds a
# new root on the next `make deps` instead of reusing a stale one.
set -eu

PACKAGES="systemd systemd-sysv dbus procps iproute2 nftables conntrack python3 \
libyaml-cpp0.7 libnftnl11 libmnl0 libnetfilter-conntrack3 libnfnetlink0 libcap-ng0 libseccomp2 \
libspdlog1.10 libfmt9 libsystemd0"
# Installed with apt inside the new root once debootstrap is done: polkitd's
# maintainer scripts fail in debootstrap's first configure pass. polkit lets
# the proxygw user start and stop systemd:unit targets' units
# (tests/integration/test_systemd_unit.py).
LATE_PACKAGES="polkitd"
SUITE=bookworm
CACHE=${PROXYGW_TEST_CACHE:-/var/cache/proxygw-test}

hash=$(printf '%s %s %s\n' "$SUITE" "$PACKAGES" "$LATE_PACKAGES" | sha256sum | cut -c1-12)
root="$CACHE/debian12-systemd-$hash"

if [ "${1:-}" = "--path" ]; then
  echo "$root"
  exit 0
fi
[ -f "$root/.complete" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "debian-root: $root is missing; run 'sudo make deps' to build it" >&2
  exit 1
fi
# The mirror this machine's apt already uses.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/building.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
log="$CACHE/debootstrap.log"
echo "deps: building the booted-systemd test's Debian 12 root in $root (~2 minutes)"
if ! debootstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ,)" "$SUITE" "$tmp/root" \
     "$mirror" >"$log" 2>&1; then
  echo "debian-root: debootstrap failed; see $log" >&2
  exit 1
fi
# No daemon starts while installing (invoke-rc.d(8)).
printf '#!/bin/sh\nexit 101\n' > "$tmp/root/usr/sbin/policy-rc.d"
chmod 755 "$tmp/root/usr/sbin/policy-rc.d"
if ! DEBIAN_FRONTEND=noninteractive chroot "$tmp/root" apt-get install -y -q \
     --no-install-recommends $LATE_PACKAGES >>"$log" 2>&1; then
  echo "debian-root: installing $LATE_PACKAGES failed; see $log" >&2
  exit 1
fi
rm -f "$tmp/root/usr/sbin/policy-rc.d"
chroot "$tmp/root" apt-get clean
touch "$tmp/root/.complete"
rm -rf "$root"
mv "$tmp/root" "$root"
# Roots of older package lists are of no further use.
for old in "$CACHE"/debian12-systemd-*; do
  [ "$old" = "$root" ] || rm -rf "$old"
done
