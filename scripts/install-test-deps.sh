#!/usr/bin/env bash
# Installs what the test suite needs beyond Maven's Java dependencies: Debian's Python gRPC stack, pip, venv,
# setuptools and wheel for the client-python tests (which build and install the package), pandas and tqdm for its
# optional features, openssl for the TLS tests' certificates (scripts/make-certs.sh) and strace for the durability
# test, and Debian's chromium with its chromedriver for the dashboard's browser test. Does nothing when everything is present; needs root (or sudo) otherwise.
set -euo pipefail
need=()
/usr/bin/python3 -c 'import grpc' 2>/dev/null || need+=(python3-grpcio)
/usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || need+=(python3-protobuf)
/usr/bin/python3 -c 'import pytest' 2>/dev/null || need+=(python3-pytest)
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null || need+=(protobuf-compiler-grpc)
command -v openssl >/dev/null || need+=(openssl)
command -v strace >/dev/null || need+=(strace) # the durability test traces a real server's fsyncs and renames
/usr/bin/python3 -c 'import pandas' 2>/dev/null || need+=(python3-pandas)
/usr/bin/python3 -c 'import tqdm' 2>/dev/null || need+=(python3-tqdm)
/usr/bin/python3 -c 'import setuptools, wheel' 2>/dev/null || need+=(python3-setuptools python3-wheel)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver) # the dashboard's browser test (Selenium, no download)
/usr/bin/python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
/usr/bin/python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" > /dev/null
fi
