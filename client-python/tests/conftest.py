"""Starts a real ctrlab server (the built jar) on a loopback port for the tests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "client-python"))
# run.sh gives a copy, so the Java build may rewrite server/target while these tests run beside it.
JAR = Path(os.environ.get("CTRLAB_SERVER_JAR", ROOT / "server" / "target" / "ctrlab-server.jar"))

# The tests choose their servers themselves: nothing from the environment or a user's config file.
for _k in ("CTRLAB_SERVER", "CTRLAB_TOKEN", "CTRLAB_TLS", "CTRLAB_CA_CERT", "CTRLAB_CLIENT_CERT", "CTRLAB_CLIENT_KEY"):
    os.environ.pop(_k, None)
os.environ["XDG_CONFIG_HOME"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / "ctrlab-pytest-no-config")


class Server:
    """A server process over tmp/data and tmp/runs; ``port`` 0 picks a free one."""

    def __init__(self, tmp: Path, *extra: str, port: int = 0):
        if not JAR.exists():
            pytest.fail(f"{JAR} is missing: build it first (mvn -DskipTests package)")
        self.tmp = tmp
        self.extra = extra
        self.log = open(tmp / "server.log", "a+")
        self.proc = subprocess.Popen(
            # Short runs: the JIT's optimising tier costs the tests more CPU than it saves.
            ["java", "-XX:TieredStopAtLevel=1", "-jar", str(JAR), "--port", str(port), "--data-dir",
             str(tmp / "data"), "--run-dir", str(tmp / "runs"), "--no-download",
             "--worker-jvm-option=-XX:TieredStopAtLevel=1", "--http-port", "0", *extra], stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if not m:
            self.stop()
            pytest.fail(f"server did not start: {line!r}")
        self.port = int(m.group(1))
        self.address = f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("ctrlab"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(server):
    from ctrlab import Client
    with Client(server.address) as c:
        yield c


QUICK = dict(max_epochs=2, batch_size=4096, embedding_size=8, hyperparameters={"mlp_hidden_size": [16]})


@pytest.fixture(scope="session")
def finished(client):
    """One finished BINARY and one finished RATING run of a small DCNV2."""
    runs = [client.train("synthetic", "DCNV2", head, tags=["pytest"], **QUICK) for head in ("BINARY", "RATING")]
    for r in runs:
        r.wait(progress=False)
    return runs
