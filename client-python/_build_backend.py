"""The package's build backend: setuptools', asking for grpcio-tools only where it is needed.

The build generates the gRPC modules from ../proto (build_stubs.py) with Debian's protoc and grpc_python_plugin when
they are on the PATH; elsewhere it needs the grpcio-tools package, which an isolated build (plain ``pip install``)
then fetches. With ``--no-build-isolation`` these hooks are not asked and the installed tools are used.
"""

import shutil

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403  (build_wheel, build_sdist, prepare_metadata_..., ...)


def _compiler() -> list:
    return [] if shutil.which("protoc") and shutil.which("grpc_python_plugin") else ["grpcio-tools>=1.50"]


def get_requires_for_build_wheel(config_settings=None):
    return _setuptools.get_requires_for_build_wheel(config_settings) + _compiler()


def get_requires_for_build_editable(config_settings=None):
    return _setuptools.get_requires_for_build_editable(config_settings) + _compiler()
