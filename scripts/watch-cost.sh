#!/usr/bin/env bash
# What one WatchRun costs the server: its CPU use (in cores) while a run trains, first with nobody watching, then
# with one 'ctrlab watch', in the same session. The worker's own use is printed beside it for scale.
#   scripts/watch-cost.sh [DATA_DIR] [DATASET] [SECONDS]      (default: ../shared/data ml-1m 10)
# Needs the built jars (./run.sh build) and a free port 50093.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data}"; dataset="${2:-ml-1m}"; secs="${3:-10}"
port=50093
dir="$(mktemp -d)"
export TF_ENABLE_ONEDNN_OPTS="${TF_ENABLE_ONEDNN_OPTS:-1}"
java -jar server/target/ctrlab-server.jar --port "$port" --data-dir "$data" --run-dir "$dir/runs" --threads 2 \
  > "$dir/server.log" 2>&1 &
server=$!
watcher=""
cleanup() {
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null || true; fi
  kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
cli() { java -jar client-java/target/ctrlab-cli.jar --server "localhost:$port" "$@"; }
for _ in $(seq 1 60); do cli info > /dev/null 2>&1 && break; sleep 1; done
id="$(cli train --dataset "$dataset" --backbone WideDeep --epochs 30 --patience 30 | tail -1 | awk '{print $1}')"
for _ in $(seq 1 120); do pgrep -f "ctrlab.worker=$id" > /dev/null && break; sleep 0.5; done
worker="$(pgrep -f "ctrlab.worker=$id")"
sleep 8 # past loading and the first steps
tick="$(getconf CLK_TCK)"
jiffies() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sample() { # LABEL: the server's and the worker's cores over $secs seconds
  local s0 w0 t0 s1 w1 t1
  s0=$(jiffies "$server"); w0=$(jiffies "$worker"); t0=$(date +%s.%N)
  sleep "$secs"
  s1=$(jiffies "$server"); w1=$(jiffies "$worker"); t1=$(date +%s.%N)
  awk -v l="$1" -v s="$((s1 - s0))" -v w="$((w1 - w0))" -v t0="$t0" -v t1="$t1" -v k="$tick" \
    'BEGIN { printf "%-22s server %.4f cores   worker %.3f cores\n", l, s / k / (t1 - t0), w / k / (t1 - t0) }'
}
sample "nobody watching"
java -jar client-java/target/ctrlab-cli.jar --server "localhost:$port" watch "$id" > /dev/null 2>&1 &
watcher=$!
sleep 2
sample "one ctrlab watch"
cli cancel "$id" > /dev/null
