#!/usr/bin/env bash
# kube-cluster.sh builds and runs a small, real Kubernetes control plane on
# 127.0.0.1 for leci's node tests and for trying `leci node` by hand:
# Debian's etcd-server and a kube-apiserver (and kubectl) built from the Go
# module k8s.io/kubernetes. There is no scheduler and no controller manager:
# Pods name their node (spec.nodeName), which is what a leci node runs.
#
#   hack/kube-cluster.sh build   builds bin/ (kube-apiserver, kubectl) once
#   hack/kube-cluster.sh build-start  the same build in the background, at the
#                                lowest CPU priority (make test runs it beside
#                                the integration tests, which it must not slow)
#   hack/kube-cluster.sh build-wait   waits for that build (builds here when none
#                                was started or it failed)
#   hack/kube-cluster.sh start   build, then etcd + apiserver; prints the kubeconfig path
#   hack/kube-cluster.sh stop    stops both (the data stays until the next start)
#   hack/kube-cluster.sh env     prints KUBECONFIG=... and PATH=... for a shell
#
# k8s.io/kubernetes is not meant to be imported: its go.mod points every
# staging module (k8s.io/api, k8s.io/client-go, ...) at ./staging, which a
# module download does not have. The scratch module here requires it and
# replaces each staging module by the published module of the same minor
# release (v1.X.Y -> v0.X.Y). The version link flags make the binaries report
# their release; without them kubectl cannot parse the server's version.
#
# Everything lives under LECI_KUBE_DIR (/var/cache/leci-kube): the scratch
# module, the Go build cache (kept between runs: a cold build takes some
# 1,400 CPU-seconds, about 12 minutes on two idle cores, and 2.3 GB; a warm
# one seconds), the binaries, and run/
# with etcd's data, certificates, the token file, logs and the kubeconfig.
#
# etcd 3.4 (Debian 12's) is older than the apiserver asks for (3.5.13+ for
# consistent reads from its watch cache); the apiserver finds that out and
# reads from etcd instead. Nothing else needs a newer etcd.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
DIR=${LECI_KUBE_DIR:-/var/cache/leci-kube}
RUN=$DIR/run
BIN=$DIR/bin
ETCD_PORT=${LECI_KUBE_ETCD_PORT:-23790}
ETCD_PEER_PORT=$((ETCD_PORT + 1))
API_PORT=${LECI_KUBE_API_PORT:-16443}
GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}

staging=(
	api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
	cloud-provider cluster-bootstrap code-generator component-base
	component-helpers controller-manager cri-api cri-client cri-streaming
	csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
	kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler
	kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver
	streaming
)

log() { echo "kube-cluster: $*" >&2; }

built() { [[ -x $BIN/kube-apiserver && -x $BIN/kubectl && -e $BIN/.built-$KUBE_VERSION ]]; }

build() {
	built && return 0
	mkdir -p "$DIR"
	# One build at a time (a background one and a foreground one share
	# the scratch module and the binaries); the second finds it done.
	exec 9>"$DIR/build.lock"
	flock 9
	if built; then
		exec 9>&-
		return 0
	fi
	local stamp=$BIN/.built-$KUBE_VERSION
	local mod=$DIR/build
	mkdir -p "$mod" "$BIN"
	local minor=v0.${KUBE_VERSION#v1.}
	{
		echo "module leci.local/kube-build"
		echo
		echo "go 1.26.0"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		for m in "${staging[@]}"; do
			echo "replace k8s.io/$m => k8s.io/$m $minor"
		done
	} >"$mod/go.mod"
	cat >"$mod/tools.go" <<-'EOF'
		//go:build tools

		package tools

		import (
			_ "k8s.io/kubernetes/cmd/kube-apiserver"
			_ "k8s.io/kubernetes/cmd/kubectl"
		)
	EOF
	local start=$SECONDS
	log "building kube-apiserver and kubectl $KUBE_VERSION in $mod (GOCACHE $DIR/gocache)"
	(
		cd "$mod"
		export GOCACHE=$DIR/gocache GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local
		"$GO" mod tidy -e >/dev/null 2>"$DIR/tidy.log" || { cat "$DIR/tidy.log" >&2; exit 1; }
		local git_version=$KUBE_VERSION major=1 minor_n
		minor_n=${KUBE_VERSION#v1.}
		minor_n=${minor_n%%.*}
		local pkg=k8s.io/component-base/version
		local ldflags="-s -w -X $pkg.gitVersion=$git_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor_n"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
		# The client-go copy of the version variables is what kubectl reports.
		pkg=k8s.io/client-go/pkg/version
		ldflags+=" -X $pkg.gitVersion=$git_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor_n"
		"$GO" build -trimpath -ldflags "$ldflags" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
	)
	touch "$stamp"
	# Unlocked before start runs etcd and the apiserver, which would
	# otherwise inherit the lock and hold it for as long as they run.
	exec 9>&-
	log "built in $((SECONDS - start)) s"
}

# build_start runs build in the background, niced, its output in
# build.log and its exit status in build.rc when it ends.
build_start() {
	mkdir -p "$DIR"
	rm -f "$DIR/build.rc"
	if built; then
		echo 0 >"$DIR/build.rc"
		return 0
	fi
	log "building in the background (log: $DIR/build.log)"
	nohup nice -n 19 "$0" build-fg-status >"$DIR/build.log" 2>&1 </dev/null &
}

# build_wait waits for build_start's build: build takes the build's lock,
# so it waits for a running one and then finds the binaries. One that failed
# is tried again here, with its log shown first.
build_wait() {
	local start=$SECONDS
	if [[ -e $DIR/build.rc && $(cat "$DIR/build.rc") != 0 ]]; then
		log "the background build failed; its log:"
		cat "$DIR/build.log" >&2
		log "building again"
	fi
	build
	log "the build was ready after $((SECONDS - start)) s of waiting"
}

certs() {
	[[ -e $RUN/pki/ca.crt ]] && return 0
	local p=$RUN/pki
	mkdir -p "$p"
	(
		cd "$p"
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=leci-kube-ca" \
			-keyout ca.key -out ca.crt 2>/dev/null
		cat >apiserver.ext <<-EOF
			subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
			extendedKeyUsage=serverAuth
		EOF
		openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile apiserver.ext -out apiserver.crt 2>/dev/null
		# The apiserver's client certificate towards the kubelets (logs, exec).
		printf 'extendedKeyUsage=clientAuth\n' >client.ext
		openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
			-keyout kubelet-client.key -out kubelet-client.csr 2>/dev/null
		openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
			-extfile client.ext -out kubelet-client.crt 2>/dev/null
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
		# token,user,uid,"group1,group2"
		echo "$(openssl rand -hex 16),admin,admin,\"system:masters\"" >tokens.csv
		chmod 0600 ./*.key tokens.csv
	)
}

kubeconfig() {
	local token
	token=$(cut -d, -f1 "$RUN/pki/tokens.csv")
	cat >"$RUN/kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: leci
		  cluster:
		    server: https://127.0.0.1:$API_PORT
		    certificate-authority: $RUN/pki/ca.crt
		users:
		- name: admin
		  user:
		    token: $token
		contexts:
		- name: leci
		  context: {cluster: leci, user: admin}
		current-context: leci
	EOF
	chmod 0600 "$RUN/kubeconfig"
}

running() { [[ -e $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
	command -v etcd >/dev/null || { log "etcd not found: install etcd-server (hack/install-deps.sh)"; exit 1; }
	build
	mkdir -p "$RUN"
	certs
	kubeconfig
	if ! running "$RUN/etcd.pid"; then
		etcd --name leci --data-dir "$RUN/etcd" \
			--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
			--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
			--initial-cluster "leci=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" \
			>"$RUN/etcd.log" 2>&1 &
		echo $! >"$RUN/etcd.pid"
	fi
	if ! running "$RUN/apiserver.pid"; then
		local p=$RUN/pki
		# ServiceAccount admission is off: no controller manager creates the
		# namespaces' default service accounts that it would ask for. The
		# kubernetes Service's endpoints would be 127.0.0.1, which the
		# endpoint reconciler refuses: it is off.
		"$BIN/kube-apiserver" \
			--etcd-servers "http://127.0.0.1:$ETCD_PORT" \
			--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
			--tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
			--client-ca-file "$p/ca.crt" --token-auth-file "$p/tokens.csv" \
			--authorization-mode Node,RBAC \
			--service-account-issuer https://kubernetes.default.svc \
			--service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
			--service-cluster-ip-range 10.96.0.0/24 \
			--disable-admission-plugins ServiceAccount \
			--kubelet-client-certificate "$p/kubelet-client.crt" --kubelet-client-key "$p/kubelet-client.key" \
			--kubelet-preferred-address-types InternalIP \
			--enable-priority-and-fairness=false \
			--endpoint-reconciler-type none \
			--profiling=false \
			>"$RUN/apiserver.log" 2>&1 &
		echo $! >"$RUN/apiserver.pid"
	fi
	local deadline=$((SECONDS + 90))
	until "$BIN/kubectl" --kubeconfig "$RUN/kubeconfig" get --raw /readyz >/dev/null 2>&1; do
		if ((SECONDS > deadline)) || ! running "$RUN/apiserver.pid"; then
			log "apiserver not ready; last lines of $RUN/apiserver.log:"
			tail -20 "$RUN/apiserver.log" >&2
			exit 1
		fi
		sleep 0.5
	done
	log "ready on https://127.0.0.1:$API_PORT"
	echo "$RUN/kubeconfig"
}

stop() {
	local f
	for f in apiserver etcd; do
		if running "$RUN/$f.pid"; then
			local pid
			pid=$(cat "$RUN/$f.pid")
			kill "$pid"
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$RUN/$f.pid"
	done
}

case ${1:-} in
build) build ;;
build-start) build_start ;;
build-wait) build_wait ;;
build-fg-status)
	# The build in a process of its own: in a subshell tested with || its
	# set -e would be off, and a failed step would not stop it.
	rc=0
	"$0" build || rc=$?
	echo "$rc" >"$DIR/build.rc"
	exit "$rc"
	;;
start) start ;;
stop) stop ;;
reset) stop; rm -rf "$RUN" ;;
env)
	echo "KUBECONFIG=$RUN/kubeconfig"
	echo "PATH=$BIN:\$PATH"
	;;
*)
	echo "usage: $0 build|start|stop|reset|env" >&2
	exit 2
	;;
esac
