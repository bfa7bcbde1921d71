#!/usr/bin/env bash
# Generates the Python protobuf and gRPC modules (ctrlab/v1/*_pb2*.py) from ../proto. Never edit them by hand;
# they are not committed. Needs protoc and grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc).
set -euo pipefail
cd "$(dirname "$0")"
plugin=$(command -v grpc_python_plugin)
mkdir -p ctrlab/v1
protoc -I ../proto --python_out=. --grpc_python_out=. --plugin=protoc-gen-grpc_python="$plugin" \
  ../proto/ctrlab/v1/*.proto
touch ctrlab/v1/__init__.py
