#!/usr/bin/env bash
# ctrlab developer entry point.
#   ./run.sh demo [--data-dir DIR] [--dataset NAME] [--backbone NAME]   build, start a server, compare both heads
#   ./run.sh test                                                     build and run every test (what CI runs;
#                                                                     starts PostgreSQL and Slurm, needs root)
#   ./run.sh build                                                    build the server and CLI jars
set -euo pipefail
cd "$(dirname "$0")"
# TensorFlow's oneDNN CPU kernels: read once when TensorFlow starts, off by default on CPUs without AVX-512 VNNI/BF16
# or AMX (such as this project's 2-core AMD box), where they make training much faster (docs/results.md).
export TF_ENABLE_ONEDNN_OPTS="${TF_ENABLE_ONEDNN_OPTS:-1}"

MVN=(mvn -B -q)

build() {
  "${MVN[@]}" -DskipTests install
}

server_jar=server/target/ctrlab-server.jar
cli_jar=client-java/target/ctrlab-cli.jar

demo() {
  local data_dir=".demo/data" dataset="synthetic" backbone="DCNV2"
  while [ $# -gt 0 ]; do
    case "$1" in
      --data-dir) data_dir="$2"; shift 2 ;;
      --dataset) dataset="$2"; shift 2 ;;
      --backbone) backbone="$2"; shift 2 ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
  if [ "$dataset" = "synthetic" ] && [ -d "$data_dir/ml-1m" ] && [ "$data_dir" != ".demo/data" ]; then
    dataset="ml-1m"
  fi
  build
  mkdir -p .demo
  local port=${CTRLAB_DEMO_PORT:-50071}
  java -jar "$server_jar" --port "$port" --data-dir "$data_dir" --run-dir .demo/runs > .demo/server.log 2>&1 &
  local pid=$!
  # shellcheck disable=SC2064 # expand $pid now: the trap runs after this function's locals are gone
  trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true" EXIT
  for _ in $(seq 1 60); do
    if java -jar "$cli_jar" --server "localhost:$port" info > /dev/null 2>&1; then break; fi
    sleep 1
  done
  java -jar "$cli_jar" --server "localhost:$port" info
  java -jar "$cli_jar" --server "localhost:$port" compare --dataset "$dataset" --backbone "$backbone" \
    --tag demo --name "demo $backbone"
}

tests() {
  ./scripts/install-test-deps.sh
  # PostgreSQL and a single-node Slurm on loopback for the store and cluster tests; fails here if either cannot start.
  local services
  services="$(./scripts/start-services.sh)"
  eval "$services"
  # Build once (jars and test classes), then run the Java tests without building again (surefire:test), and the
  # Python tests beside them on a copy of the server jar.
  "${MVN[@]}" -DskipTests install
  client-python/generate_stubs.sh
  local py_dir py_pid java_rc=0 py_rc
  py_dir="$(mktemp -d)"
  cp server/target/ctrlab-server.jar "$py_dir/"
  (CTRLAB_SERVER_JAR="$py_dir/ctrlab-server.jar" /usr/bin/python3 -m pytest -q client-python/tests \
    > "$py_dir/pytest.log" 2>&1; echo $? > "$py_dir/rc") &
  py_pid=$!
  mvn -B surefire:test || java_rc=$?
  wait "$py_pid" || true
  py_rc="$(cat "$py_dir/rc" 2>/dev/null || echo 1)"
  echo "=== client-python tests (pytest, run beside the Java tests)"
  cat "$py_dir/pytest.log"
  rm -rf "$py_dir"
  if [ "$java_rc" -ne 0 ] || [ "$py_rc" -ne 0 ]; then
    echo "tests failed: maven exit $java_rc, pytest exit $py_rc" >&2
    return 1
  fi
}

case "${1:-}" in
  demo) shift; demo "$@" ;;
  test) tests ;;
  build) build ;;
  *) sed -n '2,6p' "$0"; exit 2 ;;
esac
