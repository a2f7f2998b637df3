#!/usr/bin/env bash
# Starts a local three-member hub and two nodes as separate processes, for
# trying failover by hand (kill -9 a member, watch `branchline ctl status`).
# Data goes to ${DATA:-/tmp/branchline-cluster}; stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-/tmp/branchline-cluster}
export BRANCHLINE_ADMIN_PASSWORD=${BRANCHLINE_ADMIN_PASSWORD:-change-me-please}
go build -o "$DATA/branchline" ./cmd/branchline
bin="$DATA/branchline"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT

"$bin" hub --id hub1 --data "$DATA/hub1" --http 127.0.0.1:7001 --raft 127.0.0.1:7101 --bootstrap &
pids+=($!)
sleep 2
for i in 2 3; do
	"$bin" hub --id hub$i --data "$DATA/hub$i" --http 127.0.0.1:700$i --raft 127.0.0.1:710$i --join http://127.0.0.1:7001 &
	pids+=($!)
done
sleep 3
hubs=http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003
for n in sh-pudong:8001 bj-chaoyang:8002; do
	id=${n%%:*} port=${n##*:}
	tokfile="$DATA/$id.token"
	if [[ ! -s $tokfile ]]; then
		"$bin" ctl --hub "$hubs" nodes add "$id" | tail -1 >"$tokfile"
	fi
	BRANCHLINE_TOKEN=$(cat "$tokfile") "$bin" node --id "$id" --data "$DATA/$id" --http 127.0.0.1:$port --hub "$hubs" &
	pids+=($!)
done
"$bin" ctl --hub "$hubs" status
wait
