"""Builds the ctrlab client with its gRPC modules generated from the API definition (see build_stubs.py)."""

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

sys.path.insert(0, str(Path(__file__).resolve().parent))  # a PEP 517 build does not put the project on the path
import build_stubs  # noqa: E402


class BuildWithStubs(build_py):
    """Generates ctrlab/v1 from the protos before the package's files are collected."""

    def run(self):
        build_stubs.generate()
        super().run()


class SdistWithProtos(sdist):
    """A source distribution carries the protos, so a wheel built from it generates the same modules."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        shutil.copytree(build_stubs.proto_root() / "ctrlab", Path(base_dir) / "proto" / "ctrlab", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithStubs, "sdist": SdistWithProtos})
