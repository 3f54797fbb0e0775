#!/usr/bin/env bash
# The demo: runs a real group with leci (an init container writes a page, a
# web server serves it), shows its status, sends it a request from the host,
# then stops it, which deletes the group and everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."
leci=bin/leci
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== importing the busybox image built from this host's busybox-static"
$leci image import-busybox

echo "== leci run -f examples/demo.yaml"
$leci run -f examples/demo.yaml --final-status "$work/final.json" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do
	grep -q "serving on" "$work/out" 2>/dev/null && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
cat "$work/err"
cat "$work/out"
addr=$(sed -n 's/^web| serving on //p' "$work/out")
if [ -z "$addr" ]; then
	echo "demo: the web server did not start" >&2
	exit 1
fi

echo "== a request from the host to http://$addr/"
# bash's /dev/tcp: no HTTP client needs to be installed.
for _ in $(seq 50); do
	if exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}" 2>/dev/null; then
		printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$addr" >&3
		cat <&3
		exec 3<&-
		break
	fi
	sleep 0.1
done

echo "== stopping: leci deletes the group (SIGTERM, grace period, SIGKILL) and cleans up"
kill -TERM "$pid"
wait "$pid" || true
tail -n 3 "$work/err"
echo "== last status (as DescribeContainerGroups shows it)"
sed -n -e '/"ContainerGroupId"/p' -e '/"Status"/p' -e '/"IntranetIp"/p' "$work/final.json"
