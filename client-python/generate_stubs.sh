#!/usr/bin/env bash
# Generates the Python protobuf and gRPC modules (ctrlab/v1/*_pb2*.py and their .pyi types) from ../proto, as the
# package build does (build_stubs.py). Never edit them by hand; they are not committed. Needs protoc and
# grpc_python_plugin (Debian: protobuf-compiler, protobuf-compiler-grpc).
set -euo pipefail
cd "$(dirname "$0")"
/usr/bin/python3 build_stubs.py
