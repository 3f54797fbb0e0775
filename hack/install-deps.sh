#!/usr/bin/env bash
# install-deps.sh installs, on Debian or Ubuntu, what leci's build and tests need:
# containerd and runc (the runtime), the CNI plugins, a static busybox (the test
# image is built from it), iptables and iproute2 (pod networking), docker.io
# (dockerd for the Docker backend's tests, which start their own dockerd) and,
# for the registry tests, docker-registry, skopeo, htpasswd and openssl; and
# etcd-server for the Kubernetes test cluster (make test-cluster).
#
# It is idempotent: when every package is installed it does nothing, not even
# "apt-get update". It never enables a service. Debian's containerd and
# docker-registry packages start their service on install; leci's tests start
# their own containerd, dockerd and registries, so a policy-rc.d that denies service
# starts is put in place for the install (and removed afterwards when this
# script created it). Without it, a system containerd would answer on
# /run/containerd/containerd.sock and "auto" would pick it instead of leci's own.
# docker.io enables docker.service and docker.socket on install (policy-rc.d
# only stops them from starting); they are disabled again, so no boot starts a
# system dockerd either. A docker CLI already in PATH (for example a newer one
# in /usr/local/bin) stays first in PATH and keeps working.
set -euo pipefail

packages=(
	containerd
	runc
	containernetworking-plugins
	docker.io # dockerd for the Docker backend's integration tests
	busybox-static
	iptables
	iproute2
	docker-registry
	skopeo
	apache2-utils
	openssl
	ca-certificates
	util-linux # mount, umount, nsenter, flock
	procps     # ps, pkill for debugging; pgrep in scripts
	git
	etcd-server # the test cluster of make test-cluster (hack/kube-cluster.sh)
)

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: must run as root" >&2
	exit 1
fi

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	echo "install-deps: needs dpkg and apt-get (Debian or Ubuntu)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [[ "$status" != "installed" ]]; then
		missing+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "install-deps: all ${#packages[@]} packages already installed, nothing to do"
	exit 0
fi

echo "install-deps: missing: ${missing[*]}"

policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e "$policy" ]]; then
	# Exit code 101 means "action forbidden": invoke-rc.d and deb-systemd-invoke
	# then leave services stopped during package configuration.
	printf '#!/bin/sh\n# written by leci hack/install-deps.sh for the duration of an install\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	created_policy=1
	trap 'rm -f "$policy"' EXIT
	echo "install-deps: wrote $policy to keep services from starting"
else
	echo "install-deps: $policy exists, leaving it as is"
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: apt-get update"
apt-get update -qq
echo "install-deps: apt-get install ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if [[ $created_policy -eq 1 ]]; then
	rm -f "$policy"
	trap - EXIT
	echo "install-deps: removed $policy"
fi

# docker.io's postinst enables its units even when it may not start them.
# Disable them (only the units docker.io installed) so that nothing starts a
# system dockerd, which would answer on /var/run/docker.sock.
if [[ " ${missing[*]} " == *" docker.io "* ]] && command -v deb-systemd-helper >/dev/null; then
	deb-systemd-helper disable docker.service docker.socket >/dev/null 2>&1 || true
	echo "install-deps: disabled docker.service and docker.socket"
fi
# etcd-server enables etcd.service the same way; hack/kube-cluster.sh starts
# its own etcd on its own ports.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v deb-systemd-helper >/dev/null; then
	deb-systemd-helper disable etcd.service >/dev/null 2>&1 || true
	echo "install-deps: disabled etcd.service"
fi

# A service may still have started, for example when a distribution ignores
# policy-rc.d. Say so rather than stop something this script did not start.
for svc in containerd docker docker.socket docker-registry etcd; do
	if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
		echo "install-deps: note: service $svc is running (started by its package); leci does not need it" >&2
	fi
done
if [[ -S /run/containerd/containerd.sock ]]; then
	echo "install-deps: note: /run/containerd/containerd.sock exists; leci's 'auto' will use that containerd" >&2
fi

if [[ -S /var/run/docker.sock ]]; then
	echo "install-deps: note: /var/run/docker.sock exists; leci's tests start their own dockerd and do not use it" >&2
fi

echo "install-deps: installed ${missing[*]}"
