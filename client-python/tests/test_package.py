"""The client as a researcher installs and uses it: a wheel in a fresh virtual environment, the CLI's defaults,
reads that survive a server restart, DataFrames and a progress bar when pandas and tqdm are there."""

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from ctrlab import Client, CtrlabError
from conftest import QUICK, ROOT, Server

PY = "/usr/bin/python3"


def run_py(code, *, python=PY, env=None, cwd=None, timeout=300):
    return subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def test_a_wheel_installs_in_a_fresh_venv_and_drives_a_server(server, tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([PY, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist),
                            str(ROOT / "client-python")], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(dist.glob("ctrlab-0.3.0-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([PY, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    inst = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    code = f"""
import json, pathlib, ctrlab
from ctrlab import Client
here = pathlib.Path(ctrlab.__file__).parent
with Client({server.address!r}) as c:
    run = c.train("synthetic", "DCNV2", tags=["wheel"], **{QUICK!r})
    info = run.wait(progress=False)
print(json.dumps(dict(file=str(here), typed=(here / "py.typed").exists(),
                      pyi=sorted(p.name for p in (here / "v1").glob("*.pyi")), state=info.state, auc=info.test_auc)))
"""
    out = run_py(code, python=str(venv / "bin" / "python"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["file"].startswith(str(venv)), "imported from the venv, not the clone: " + r["file"]
    assert r["typed"] and "runs_pb2.pyi" in r["pyi"] and "service_pb2_grpc.pyi" in r["pyi"]
    assert r["state"] == "SUCCEEDED" and 0.4 < r["auc"] < 1


def test_pip_install_of_the_folder_works_too(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([PY, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    inst = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-deps", "--no-build-isolation",
                           str(ROOT / "client-python")], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stdout + inst.stderr
    out = run_py("import ctrlab.v1.service_pb2_grpc as s, ctrlab; print(ctrlab.__file__)",
                 python=str(venv / "bin" / "python"), cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith(str(venv)), out.stdout + out.stderr


def test_the_build_generates_its_modules_without_protobuf_or_grpc(tmp_path):
    # An isolated build (plain 'pip install') has setuptools and, at most, grpcio-tools: nothing it imports.
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bare = str(venv / "bin" / "python")
    assert subprocess.run([bare, "-c", "import google.protobuf"], capture_output=True).returncode != 0
    out = tmp_path / "out"
    code = ("import sys, pathlib; sys.path.insert(0, sys.argv[1]); import build_stubs; "
            "build_stubs.generate(pathlib.Path(sys.argv[2]))")
    done = subprocess.run([bare, "-c", code, str(ROOT / "client-python"), str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    pyi = (out / "ctrlab" / "v1" / "service_pb2_grpc.pyi").read_text()
    assert "WatchRun: grpc.UnaryStreamMultiCallable" in pyi and "def add_CtrlabServicer_to_server" in pyi


def test_the_server_and_token_default_as_for_the_cli(server, tmp_path):
    cfg = tmp_path / "xdg" / "ctrlab"
    cfg.mkdir(parents=True)
    (cfg / "config.properties").write_text(f"# as the CLI reads it\nserver={server.address}\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PYTHONPATH": str(ROOT / "client-python"), "PATH": "/usr/bin"}
    code = "from ctrlab import Client\nwith Client() as c: print(c.address, c.info().user)"
    out = run_py(code, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [server.address, "local"]
    # The environment wins over the file.
    out = run_py("from ctrlab import Client; print(Client().address)", env=dict(env, CTRLAB_SERVER="other:1"))
    assert out.stdout.strip() == "other:1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reads_wait_for_a_restarting_server_and_train_is_sent_once(tmp_path):
    port = free_port()
    s = Server(tmp_path, port=port)
    c = Client(f"127.0.0.1:{port}", timeout=60)
    try:
        assert c.info().slots == 1
        s.stop()
        with pytest.raises(CtrlabError) as e:
            Client(f"127.0.0.1:{port}", timeout=5).train("synthetic", "DCNV2", **QUICK)
        assert e.value.code == "UNAVAILABLE", "queueing work is not retried blindly"
        result = {}
        t = threading.Thread(target=lambda: result.update(info=c.info(), at=time.time()))
        t.start()
        time.sleep(2)
        restarted = time.time()
        s = Server(tmp_path, port=port)
        t.join(60)
        assert result["info"].slots == 1, "the read waited for the server and got through"
        assert result["at"] >= restarted, "it was answered by the restarted server, not before"
    finally:
        c.close()
        s.stop()


def test_list_like_results_become_data_frames(client, finished):
    import pandas as pd
    runs = client.runs(tag="pytest")
    df = runs.to_frame()
    assert isinstance(df, pd.DataFrame) and len(df) == 2 and {"run_id", "test_auc", "head"} <= set(df.columns)
    info = finished[1].info()
    epochs = info.epochs.to_frame()
    assert list(epochs["epoch"]) == [1, 2] and "bce_loss" in epochs and "ce_loss" in epochs
    curve = finished[1].perturb([0, 0.5]).to_frame()
    assert list(curve["sigma"]) == [0, 0.5]
    preds = finished[0].predictions(limit=25).to_frame()
    assert len(preds) == 25 and preds["score"].between(0, 1).all()
    assert len(finished[0].inspect().epochs.to_frame()) == 2


def test_without_pandas_everything_but_to_frame_works(server, finished):
    code = f"""
import sys
sys.modules["pandas"] = None   # as if pandas were not installed
from ctrlab import Client
with Client({server.address!r}) as c:
    runs = c.runs(tag="pytest")
    print(len(runs), runs[0].to_dict()["state"])
    try:
        runs.to_frame()
    except ImportError as e:
        print("ImportError:", e)
"""
    out = run_py(code, env={"PYTHONPATH": str(ROOT / "client-python"), "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "2 SUCCEEDED"
    assert out.stdout.splitlines()[1].startswith("ImportError: to_frame() needs pandas")


@pytest.mark.parametrize("tqdm", [True, False])
def test_wait_shows_a_progress_bar_only_with_tqdm(server, tqdm):
    code = f"""
import sys
{'' if tqdm else 'sys.modules["tqdm"] = None'}
from ctrlab import Client
with Client({server.address!r}) as c:
    print(c.train("synthetic", "DCNV2", **dict({QUICK!r}, batch_size=256, max_epochs=2)).wait().state)
"""
    out = run_py(code, env={"PYTHONPATH": str(ROOT / "client-python"), "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "SUCCEEDED"
    if tqdm:
        assert "epoch 1" in out.stderr and "batch" in out.stderr, out.stderr
    else:
        assert out.stderr == "", out.stderr
