# proxygw: the two commands a newcomer needs are `make run` and `make test`.
# Everything else is here for developers and packagers. See README.md.

BUILD      ?= build
ASAN_BUILD ?= $(BUILD)/asan
FUZZ_BUILD ?= $(BUILD)/fuzz
JOBS       ?= 2
PREFIX     ?= /usr/local
DESTDIR    ?=
FUZZ_SECONDS ?= 20

# Debian 12 packages, grouped by what needs them. `make deps` installs exactly
# these, and does nothing when all are present; then it builds, once, the
# Debian root that the booted-systemd test starts in a container
# (tests/systemd/debian-root.sh, cached under /var/cache/proxygw-test).
DEPS_BUILD = cmake make g++ pkg-config \
	libyaml-cpp-dev libcli11-dev libmsgpack-cxx-dev nlohmann-json3-dev libboost-dev \
	libspdlog-dev libsystemd-dev \
	libnftnl-dev libmnl-dev libnetfilter-conntrack-dev libcap-ng-dev libseccomp-dev
# nodejs and npm run the game clients and servers of test_games (tests/npm).
# npm is left out where /usr/bin/npm exists already: a nodejs package from
# outside Debian ships its own npm and conflicts with Debian's.
# promtool (prometheus) and the official Python client's parser
# (python3-prometheus-client) both read the metrics page in test_metrics.
# strace holds netd just after a chosen syscall in test_netd_claims (a race
# made deterministic). keepalived and conntrackd: the gateway pair of test_ha
# and `make ha-demo` (docs/ha.md), run in namespaces with their own files;
# installed, Debian would start them as services: see DEPS_BENCH.
DEPS_TEST  = libgtest-dev libgmock-dev clang libclang-rt-14-dev \
	python3 python3-jsonschema python3-yaml iproute2 nftables conntrack procps \
	util-linux libcap2-bin strace systemd debootstrap systemd-container prometheus \
	python3-prometheus-client keepalived conntrackd \
	nodejs $(if $(wildcard /usr/bin/npm),,npm)
DEPS_RUN   = iproute2 python3 passwd
# make bench only: load generators, the proxies compared, the backend's web
# server, and gnuplot for the chart (gnuplot-nox: ~3 MB, where
# python3-matplotlib would bring ~210 MB). Debian would start HAProxy, nginx
# (on port 80) and Prometheus (for promtool, DEPS_TEST) as services when it
# installs them (keepalived and conntrackd too, DEPS_TEST): `deps` installs
# with a policy-rc.d that starts no daemon and disables the units it
# installed, so the host runs nothing new; the benchmark and the HA test
# start their own copies inside their namespaces.
DEPS_BENCH = iperf3 haproxy socat wrk nginx-light gnuplot-nox
DEPS       = $(sort $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_RUN) $(DEPS_BENCH))

.PHONY: all deps build test unit fuzz run ha-demo bench install clean

all: build

deps:
	@missing=""; for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEPS)) packages present"; \
	  exec sh tests/systemd/debian-root.sh; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "deps: missing:$$missing; run 'sudo make deps'" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  trap 'rm -f /usr/sbin/policy-rc.d' EXIT INT TERM; \
	  printf '#!/bin/sh\n# make deps: no daemon starts while installing (invoke-rc.d(8))\nexit 101\n' \
	    > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
	fi; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing || exit 1; \
	if [ -d /run/systemd/system ]; then \
	  for pu in haproxy:haproxy nginx-light:nginx prometheus:prometheus \
	            keepalived:keepalived conntrackd:conntrackd; do \
	    case " $$missing " in *" $${pu%%:*} "*) \
	      systemctl disable --quiet "$${pu#*:}.service" 2>/dev/null \
	        && echo "deps: $${pu#*:}.service disabled (installed for tests and benchmarks only)";; \
	    esac; \
	  done; \
	fi; \
	sh tests/systemd/debian-root.sh

# The release build compiles its sources in batches (CMake's unity build: the
# shared headers, Asio, yaml-cpp, spdlog, msgpack, parsed once per batch),
# about half the time of file by file; the sanitizer build below compiles file
# by file, so a file that misses an include still fails there.
build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROXYGW_TESTS=OFF \
	  -DCMAKE_UNITY_BUILD=ON
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite: the release build must compile without warnings, then the
# sanitizer build (ASan+UBSan) runs every test, then each fuzz target runs for
# FUZZ_SECONDS. Unit tests run JOBS at a time (each in its own process and
# network namespace); the integration tests (integration_*) one at a time, as
# each spreads real clients, gateways and backends over the cores.
test: deps build unit fuzz

unit:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPROXYGW_SANITIZE=ON \
	  -DPROXYGW_RELEASE_BUILD=$(abspath $(BUILD))
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -E '^integration_'
	cd $(ASAN_BUILD) && ctest --output-on-failure -R '^integration_'

fuzz:
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROXYGW_FUZZ=ON \
	  -DCMAKE_CXX_COMPILER=clang++ -DPROXYGW_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure

# The gateway on configs/example.yaml, in its own network namespace (as root).
run: deps build
	BUILD=$(BUILD) ./init/run-demo.sh

# Two gateways behind one VRRP address (docs/ha.md), in network namespaces
# (as root): keepalived, conntrackd and proxygw on each, a client and a
# remote backend; prints how to reach them, waits for Enter or Ctrl-C, then
# removes everything. HA_DEMO_FAILOVER=1 also kills the master after the warm.
ha-demo: deps build
	PROXYGW_BUILD_DIR=$(abspath $(BUILD)) /usr/bin/python3 tests/integration/ha_demo.py

# The benchmarks (as root), in network namespaces of their own: forwarding
# (routed, proxygw, hand-written nft DNAT, HAProxy, socat), control plane,
# idle detection, cold start. Writes bench/results/<UTC date>.md, latest.md,
# forwarding.png and the raw JSON; about 35 minutes. BENCH_QUICK=1: a smoke run of ~4 minutes.
# A number never fails the build.
bench: deps build
	cmake -S bench -B $(BUILD)/bench
	cmake --build $(BUILD)/bench -j $(JOBS)
	BENCH_QUICK=$(BENCH_QUICK) /usr/bin/python3 bench/run.py --build $(BUILD) --tools $(BUILD)/bench

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD)
