#!/usr/bin/env bash
# make bench: leci's benchmarks.
#
#  1. the request decoders (./api), with allocations;
#  2. as root, the runtime (./integration), twice: real groups on the
#     integration package's own containerd, each case run in turns with its
#     reference on that same containerd (`ctr run` of the same image), then
#     the same groups on the Docker backend (LECI_TEST_RUNTIME=docker, on a
#     dockerd the package starts itself), in turns with `docker run --rm`
#     there; then a table of the medians side by side with the ratios and
#     the targets (which are about containerd), and the engine's steps
#     behind case (a):
#       (a)  a one-container group created, run to its exit and deleted,
#            vs `ctr run --rm --cni`                       <= 1.1x ctr
#       (a') the whole `leci run -f FILE` process of that group, vs the
#            whole `ctr run --rm` process                  <= 1.25x ctr
#            (and, shown beside, vs the whole `ctr run --rm --seccomp`:
#            with the syscall filter leci's containers get)
#       (b)  1 init + 2 app containers to Running, beside
#            the same three containers by ctr              <= 250 ms
#       (c)  20 groups at once to Running, vs 20
#            concurrent `ctr run -d --cni`                 <= 1.1x ctr
#       (d)  delete of a running group whose process exits on SIGTERM,
#            until nothing of the group is left            <= 80 ms
#       (e)  memory 20 idle one-container groups add, per group: their
#            shims and what runs below them, the containers' own
#            processes left out                            <= 16 MiB RSS,
#                                                          <= 5 MiB PSS
#
# ctr's --cni reads /etc/cni/net.d and runs plugins from /opt/cni/bin, with no
# flag for other places. For the run, this script writes a bench-only conflist
# there (bridge lcbench0, subnet 10.215.0.0/24, no masquerade, addresses kept
# in a temporary directory), links /opt/cni/bin to /usr/lib/cni when
# /opt/cni/bin does not exist, and afterwards removes exactly what it made:
# the conflist, the directories and link it created, the bridge, ctr's CNI
# cache entries and the directories the CNI library made for them.
#
# Environment: GO (the go binary), BENCHTIME (default 10x), BENCH (the -bench
# pattern for the runtime, default: the six cases), LECI_BENCH_TRACE=FILE (the
# engine's debug log with time stamps, for where the time goes), RUNTIMES (the
# backends to measure, default "containerd docker").
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-$(command -v go 2>/dev/null || echo /usr/local/go/bin/go)}
# The integration package's TestMain builds leci with "go" from PATH.
export PATH="$(dirname "$GO"):$PATH"
BENCHTIME=${BENCHTIME:-10x}
BENCH=${BENCH:-'GroupRunToExit|RunProcess|InitPlusTwo|TwentyGroupsToRunning|DeleteRunning|IdleGroupsMemory'}
RUNTIMES=${RUNTIMES:-containerd docker}

BENCH_NET=leci-bench
BENCH_BRIDGE=lcbench0
BENCH_SUBNET=10.215.0.0/24
CNI_CONF_DIR=/etc/cni/net.d
CONFLIST=$CNI_CONF_DIR/00-leci-bench.conflist
CNI_BIN_DIR=/opt/cni/bin
CNI_PLUGINS=/usr/lib/cni
CNI_CACHE_DIR=/var/lib/cni # where ctr's CNI library caches ADD results

echo "== decoders: go test -run '^\$' -bench . -benchmem ./api/"
"$GO" test -run '^$' -bench . -benchmem ./api/

if [ "$(id -u)" -ne 0 ]; then
	echo "== runtime benchmarks skipped: they need root (sudo make bench)"
	exit 0
fi

# ---- the ctr side's CNI configuration, and its removal ----

made_dirs=()       # directories made here, removed (when empty) last first
made_conflist=0
made_link=0
made_bridge=0
ipam_dir=""
cache_existed=()   # which of the CNI cache's directories were there before

# mkdir_own makes a directory and its missing parents, recording each.
mkdir_own() {
	local d=$1 missing=()
	while [ ! -e "$d" ]; do
		missing=("$d" ${missing[@]+"${missing[@]}"})
		d=$(dirname "$d")
	done
	for d in ${missing[@]+"${missing[@]}"}; do
		mkdir "$d"
		made_dirs+=("$d")
	done
}

cleanup() {
	local removed=()
	if [ "$made_conflist" = 1 ]; then
		rm -f "$CONFLIST" && removed+=("$CONFLIST")
	fi
	if [ "$made_link" = 1 ]; then
		rm -f "$CNI_BIN_DIR" && removed+=("$CNI_BIN_DIR (link)")
	fi
	local i
	for ((i = ${#made_dirs[@]} - 1; i >= 0; i--)); do
		rmdir "${made_dirs[i]}" 2>/dev/null && removed+=("${made_dirs[i]}")
	done
	if [ "$made_bridge" = 1 ] && ip link show "$BENCH_BRIDGE" >/dev/null 2>&1; then
		ip link del "$BENCH_BRIDGE" && removed+=("bridge $BENCH_BRIDGE")
	fi
	if [ -n "$ipam_dir" ]; then
		local left
		left=$(find "$ipam_dir" -type f ! -name 'last_reserved_ip*' ! -name lock 2>/dev/null || true)
		[ -z "$left" ] || echo "warning: ctr side left addresses allocated: $left" >&2
		rm -rf "$ipam_dir" && removed+=("$ipam_dir")
	fi
	if [ ${#cache_existed[@]} -gt 0 ]; then
		local n
		n=$(find "$CNI_CACHE_DIR/results" -maxdepth 1 -name "$BENCH_NET-*" 2>/dev/null | wc -l)
		rm -f "$CNI_CACHE_DIR/results/$BENCH_NET-"*
		[ "$n" = 0 ] || echo "warning: $n CNI cache entries of $BENCH_NET were left; removed" >&2
		# Not there when ctr never ran with CNI (RUNTIMES=docker): an if, as
		# a failed last command of a list would end the trap under set -e.
		if [ "${cache_existed[1]}" != 1 ] && rmdir "$CNI_CACHE_DIR/results" 2>/dev/null; then
			removed+=("$CNI_CACHE_DIR/results")
		fi
		if [ "${cache_existed[0]}" != 1 ] && rmdir "$CNI_CACHE_DIR" 2>/dev/null; then
			removed+=("$CNI_CACHE_DIR")
		fi
	fi
	if [ ${#removed[@]} -gt 0 ]; then
		echo "== removed what the ctr side made: ${removed[*]}"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setup_ctr_cni writes the conflist; when it cannot, it returns 1 with the
# reason in why, and the ctr halves skip.
setup_ctr_cni() {
	command -v ctr >/dev/null || { why="no ctr binary"; return 1; }
	for p in bridge host-local; do
		[ -x "$CNI_PLUGINS/$p" ] || { why="no CNI plugin $CNI_PLUGINS/$p"; return 1; }
	done
	if ip link show "$BENCH_BRIDGE" >/dev/null 2>&1; then
		why="a link named $BENCH_BRIDGE exists already (left by an interrupted run? ip link del $BENCH_BRIDGE)"
		return 1
	fi
	if [ -n "$(ip -4 -o addr show to "$BENCH_SUBNET")" ] || [ -n "$(ip -4 route show exact "$BENCH_SUBNET")" ]; then
		why="$BENCH_SUBNET is in use on this host"
		return 1
	fi
	if [ -e "$CONFLIST" ]; then
		why="$CONFLIST exists already (left by an interrupted run?)"
		return 1
	fi
	cache_existed=(0 0)
	[ -d "$CNI_CACHE_DIR" ] && cache_existed[0]=1
	[ -d "$CNI_CACHE_DIR/results" ] && cache_existed[1]=1
	made_bridge=1
	if [ ! -e "$CNI_BIN_DIR" ] && [ ! -L "$CNI_BIN_DIR" ]; then
		mkdir_own "$(dirname "$CNI_BIN_DIR")"
		ln -s "$CNI_PLUGINS" "$CNI_BIN_DIR"
		made_link=1
	fi
	for p in bridge host-local; do
		[ -x "$CNI_BIN_DIR/$p" ] || { why="$CNI_BIN_DIR has no $p plugin"; return 1; }
	done
	ipam_dir=$(mktemp -d /tmp/leci-bench-ipam.XXXXXX)
	mkdir_own "$CNI_CONF_DIR"
	made_conflist=1
	cat >"$CONFLIST" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$BENCH_NET",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BENCH_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {"type": "host-local", "dataDir": "$ipam_dir", "ranges": [[{"subnet": "$BENCH_SUBNET"}]]}
    }
  ]
}
EOF
	# ctr takes the first configuration by name.
	local first
	first=$(find "$CNI_CONF_DIR" -maxdepth 1 \( -name '*.conf' -o -name '*.conflist' -o -name '*.json' \) -printf '%f\n' | LC_ALL=C sort | head -n1)
	if [ "$first" != "$(basename "$CONFLIST")" ]; then
		why="ctr would use $CNI_CONF_DIR/$first, not the bench's configuration"
		return 1
	fi
}

ctr_env=()
why=""
# Only the containerd run has ctr --cni references.
if [[ " $RUNTIMES " == *" containerd "* ]]; then
	if setup_ctr_cni; then
		ctr_env=(LECI_BENCH_CTR_CONFLIST="$CONFLIST")
	else
		echo "== the ctr --cni side is skipped: $why"
	fi
fi

# ---- the runtime benchmarks ----

out=$(mktemp /tmp/leci-bench-out.XXXXXX)
out_docker=$(mktemp /tmp/leci-bench-out-docker.XXXXXX)
# The per-step tables of (a), which the benchmark appends to.
steps=$(mktemp /tmp/leci-bench-steps.XXXXXX)
steps_docker=$(mktemp /tmp/leci-bench-steps-docker.XXXXXX)
trap 'rm -f "$out" "$out_docker" "$steps" "$steps_docker"; cleanup' EXIT
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); other work on the host skews the timings"
status=0
for rt in $RUNTIMES; do
	case $rt in
	containerd) rt_out=$out rt_steps=$steps ;;
	docker) rt_out=$out_docker rt_steps=$steps_docker ;;
	*) echo "RUNTIMES: unknown runtime $rt" >&2; exit 2 ;;
	esac
	echo "== runtime $rt: LECI_TEST_RUNTIME=$rt go test -tags integration -run '^\$' -bench '$BENCH' -benchtime=$BENCHTIME ./integration/"
	env ${ctr_env[@]+"${ctr_env[@]}"} LECI_TEST_RUNTIME="$rt" LECI_BENCH_STEPS="$rt_steps" \
		"$GO" test -count=1 -tags integration -run '^$' -bench "$BENCH" \
		-benchtime="$BENCHTIME" -timeout 30m ./integration/ 2>&1 | tee "$rt_out" || status=$?
done

# ---- the table ----

# metric NAME UNIT [FILE]: the value of UNIT on the result line of benchmark
# NAME (its -GOMAXPROCS suffix left out) in FILE (default: the containerd
# run's output), or nothing.
metric() {
	awk -v name="$1" -v unit="$2" '
		$1 ~ /^Benchmark/ {
			n = $1; sub(/-[0-9]+$/, "", n)
			if (n != name) next
			for (i = 3; i <= NF; i++) if ($i == unit) { print $(i-1); exit }
		}' "${3:-$out}"
}
# ratio A B, and fmt_ms A: numbers or "n/a".
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
fmt_ms() { awk -v a="$1" 'BEGIN { if (a == "") print "n/a"; else printf "%.0f ms", a }'; }
# verdict VALUE LIMIT: "met", "MISSED" or "n/a".
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { if (v == "" || l == "") print "n/a"; else if (v + 0 <= l + 0) print "met"; else print "MISSED" }'; }

# fmt_mib A: a number of MiB or "n/a"; limit_x REF FACTOR: FACTOR times REF.
fmt_mib() { awk -v a="$1" 'BEGIN { if (a == "") print "n/a"; else printf "%.1f MiB", a }'; }
limit_x() { awk -v c="$1" -v f="$2" 'BEGIN { if (c != "") print f * c }'; }
# failed NAME [FILE]: the failed-groups count of a benchmark, or nothing.
failed() { metric "$1" failed-groups "${2:-$out}" | awk '{ printf "%d", $1 }'; }

# Each case's medians: leci on containerd, leci on docker, ctr, docker run.
a=("$(metric BenchmarkGroupRunToExit ms/leci-median)" "$(metric BenchmarkGroupRunToExit ms/leci-median "$out_docker")"
	"$(metric BenchmarkGroupRunToExit ms/ctr-median)" "$(metric BenchmarkGroupRunToExit ms/docker-median "$out_docker")")
ap=("$(metric BenchmarkRunProcess ms/leci-median)" "$(metric BenchmarkRunProcess ms/leci-median "$out_docker")"
	"$(metric BenchmarkRunProcess ms/ctr-median)" "$(metric BenchmarkRunProcess ms/docker-median "$out_docker")")
b=("$(metric BenchmarkGroupInitPlusTwoToRunning ms/median)" "$(metric BenchmarkGroupInitPlusTwoToRunning ms/median "$out_docker")"
	"$(metric BenchmarkGroupInitPlusTwoToRunning ms/ctr-median)" "")
c=("$(metric BenchmarkTwentyGroupsToRunning ms/leci-median)" "$(metric BenchmarkTwentyGroupsToRunning ms/leci-median "$out_docker")"
	"$(metric BenchmarkTwentyGroupsToRunning ms/ctr-median)" "")
d=("$(metric BenchmarkDeleteRunningGroup ms/median)" "$(metric BenchmarkDeleteRunningGroup ms/median "$out_docker")"
	"$(metric BenchmarkDeleteRunningGroup ms/ctr-median)" "")
# (a')'s like-for-like reference, shown beside the target's: ctr run --rm
# with the seccomp profile leci gives its containers.
ap_filtered=$(metric BenchmarkRunProcess ms/ctrseccomp-median)
d_call=("$(metric BenchmarkDeleteRunningGroup ms/call-median)" "$(metric BenchmarkDeleteRunningGroup ms/call-median "$out_docker")")
e_rss=("$(metric BenchmarkTwentyIdleGroupsMemory MiB/group-rss)" "$(metric BenchmarkTwentyIdleGroupsMemory MiB/group-rss "$out_docker")" "" "")
e_pss=("$(metric BenchmarkTwentyIdleGroupsMemory MiB/group-pss)" "$(metric BenchmarkTwentyIdleGroupsMemory MiB/group-pss "$out_docker")" "" "")
c_failed=$(failed BenchmarkTwentyGroupsToRunning)
c_docker_failed=$(failed BenchmarkTwentyGroupsToRunning "$out_docker")
c_verdict=$(verdict "${c[0]}" "$(limit_x "${c[2]}" 1.1)")
if [ -n "$c_failed" ] && [ "$c_failed" != 0 ]; then
	c_verdict="FAILED: $c_failed groups did not come up"
fi

echo
echo "== runtime medians ($BENCHTIME, $(nproc) cores, load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
row() { printf '%-41s %10s %10s %10s %10s %8s %11s  %-13s %s\n' "$@"; }
# case_row FORMAT TITLE ARRAY TARGET RESULT: one row of a case whose medians
# are in the array named ARRAY; a reference measured nowhere shows "-".
case_row() {
	local -n v=$3
	local cells=() i
	for i in 0 1 2 3; do
		if [ "$i" -ge 2 ] && [ -z "${v[i]}" ] && [ -z "$(ref_of "$3" "$i")" ]; then
			cells+=("-")
		else
			cells+=("$($1 "${v[i]}")")
		fi
	done
	local r_ctr=- r_docker=-
	[ -n "$(ref_of "$3" 2)" ] && r_ctr=$(ratio "${v[0]}" "${v[2]}")
	[ -n "$(ref_of "$3" 3)" ] && r_docker=$(ratio "${v[1]}" "${v[3]}")
	row "$2" "${cells[@]}" "$r_ctr" "$r_docker" "$4" "$5"
}
# ref_of ARRAY COLUMN: "y" when the case has a reference in that column
# (2: ctr, 3: docker run), whether or not this run measured it.
ref_of() {
	case "$1:$2" in
	a:2 | a:3 | ap:2 | ap:3 | b:2 | c:2 | d:2) echo y ;;
	esac
}
row "case" "leci" "leci" "ctr" "docker run" "leci/ctr" "leci/docker" "target" "result"
row "" "containerd" "docker" "" "" "" "run" "(containerd)" ""
case_row fmt_ms "(a) 1 container: create, exit, delete" a "<= 1.1x ctr" "$(verdict "${a[0]}" "$(limit_x "${a[2]}" 1.1)")"
case_row fmt_ms "(a') leci run -f: the whole process" ap "<= 1.25x ctr" "$(verdict "${ap[0]}" "$(limit_x "${ap[2]}" 1.25)")"
case_row fmt_ms "(b) 1 init + 2 apps to Running" b "<= 250 ms" "$(verdict "${b[0]}" 250)"
case_row fmt_ms "(c) 20 groups at once to Running" c "<= 1.1x ctr" "$c_verdict"
case_row fmt_ms "(d) delete a running group, all gone" d "<= 80 ms" "$(verdict "${d[0]}" 80)"
case_row fmt_mib "(e) 20 idle groups: RSS added per group" e_rss "<= 16 MiB" "$(verdict "${e_rss[0]}" 16)"
case_row fmt_mib "(e) 20 idle groups: PSS added per group" e_pss "<= 5 MiB" "$(verdict "${e_pss[0]}" 5)"
cat <<EOF
Medians of wall time; each case ran in turns with its reference, on the same runtime.
ctr, in the containerd run: (a) ctr run --rm --cni; (a') the whole ctr run --rm process;
  (b) ctr run --rm --cni of the init container, then the two apps by ctr run -d at once (the
  floor the same three runc containers set; (b)'s target is absolute);
  (c) 20 concurrent ctr run -d --cni (then removed); (d) a ctr run -d --cni container of
  the same process, from its SIGTERM until its task (beside its CNI DEL) and then it with its
  snapshot are deleted, through containerd's Go client: the floor containerd sets for (d),
  whose target is absolute.
docker run, in the docker run: (a) and (a') the whole docker run --rm --network none process,
  on the package's dockerd (which has no bridge: leci's groups bring their own network).
leci/ctr and the targets compare leci on containerd with ctr; leci/docker run compares leci on
the Docker backend with docker run.
(a') beside the whole ctr run --rm --seccomp process, whose container gets the syscall filter
  leci gives every container but a privileged one (runc builds it at each create):
  $(fmt_ms "${ap_filtered}"), leci/ctr $(ratio "${ap[0]}" "${ap_filtered}").
(d) runs from the delete request until no process, container, cgroup, network namespace,
  address or directory of the group is left; the call itself returned after
  $(fmt_ms "${d_call[0]}") (containerd), $(fmt_ms "${d_call[1]}") (docker).
(e) counts the groups' shims and every process below them (log writers, sandbox processes)
  but the containers' own, as Rss and Pss of /proc/PID/smaps_rollup; the log above has them
  by process.
EOF
if [ -n "$c_docker_failed" ] && [ "$c_docker_failed" != 0 ]; then
	echo "docker: $c_docker_failed of the concurrently created groups did not come up (c)"
fi
if [ -s "$steps" ] || [ -s "$steps_docker" ]; then
	echo
	echo "== where the time goes: per step, how often it ran, its median start and its median duration"
	cat "$steps" "$steps_docker"
fi

if [ "$status" != 0 ]; then
	echo "runtime benchmarks failed (exit $status)" >&2
	exit "$status"
fi
if [ "${c_failed:-0}" != 0 ] || [ "${c_docker_failed:-0}" != 0 ]; then
	echo "${c_failed:-0} (containerd) and ${c_docker_failed:-0} (docker) of the concurrently created groups did not come up: see the log above" >&2
	exit 1
fi
