import dataclasses
import subprocess
import sys

import pytest

from ctrlab import Client, CtrlabError
from conftest import QUICK, ROOT, Server


def test_train_watch_and_result(client):
    run = client.train("synthetic", "DCNV2", "RATING", rating_weight=0.5, seed=3, name="py", **QUICK)
    events = list(run.watch())
    assert [e.state for e in events if e.kind == "state"] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert [e.epoch.epoch for e in events if e.kind == "epoch"] == [1, 2]
    assert [e.index for e in events] == list(range(len(events)))
    info = run.result()
    assert info.state == "SUCCEEDED" and info.head == "RATING" and info.rating_weight == 0.5
    assert info.hyperparameters["mlp_hidden_size"] == [16]
    assert 0.5 < info.test_auc < 1
    row = info.to_dict()
    assert row["run_id"] == run.run_id and row["epochs"][0]["epoch"] == 1
    assert dataclasses.asdict(info) == row
    # The data losses apart from the regulariser (DCNV2 has one), and the objective they make.
    e = info.epochs[0]
    assert 0.3 < e.bce_loss < 1.0 and e.ce_loss is not None and e.regularizer is not None
    assert e.train_loss == pytest.approx(0.5 * (e.bce_loss + e.regularizer) + 0.5 * e.ce_loss, rel=1e-3)
    # The stored events carry the same numbers: a watch replayed from the store shows them too.
    replayed = [x.epoch for x in run.watch() if x.kind == "epoch"]
    assert replayed[0] == e and "BCE" in str(replayed[0]) and "CE" in str(replayed[0])
    assert run.info().total_seconds > 0 and run.info().parameters > 0 and run.info().job_state == "" \
        and run.info().queued_seconds == 0


def test_watch_resumes_from_an_index_without_repeats(finished):
    run = finished[0]
    everything = list(run.watch())
    assert list(run.watch(from_index=2)) == everything[2:]


def test_evaluate_perturb_inspect_and_predictions(finished):
    binary, rating = finished
    ev = binary.evaluate(ranking_k=[10, 20])
    assert ev.auc == pytest.approx(binary.info().test_auc, abs=1e-6)
    assert set(ev.ranking) == {"ndcg@10", "recall@10", "ndcg@20", "recall@20"}
    rows = rating.perturb([0.0, 0.5, 2.0], noise_seed=5)
    assert [r.sigma for r in rows] == [0.0, 0.5, 2.0]
    assert rows[2].auc < rows[0].auc
    assert rating.perturb([0.0, 0.5, 2.0], noise_seed=5) == rows
    ins = rating.inspect(lipschitz=True, lipschitz_rows=300)
    assert len(ins.epochs) == 2 and "embedding_mean" in ins.epochs[0]
    assert set(ins.weight_norms) == {"embedding", "user_item", "other"}
    assert ins.lipschitz["rows"] == 300 and ins.lipschitz["median"] <= ins.lipschitz["max"]
    preds = list(binary.predictions(limit=50))
    assert len(preds) == 50 and all(0 < p.score < 1 for p in preds)


def test_runs_listing_filters(client, finished):
    listed = client.runs(tag="pytest")
    assert {r.run_id for r in listed} == {r.run_id for r in finished}
    assert all(r.state == "SUCCEEDED" for r in client.runs(state="SUCCEEDED"))


def test_errors_carry_the_servers_message(client):
    with pytest.raises(CtrlabError) as e:
        client.train("synthetic", "NoSuchNet")
    assert e.value.code == "INVALID_ARGUMENT" and e.value.message.startswith("unknown backbone 'NoSuchNet'")
    with pytest.raises(CtrlabError) as e:
        client.train("synthetic", "DCNV2", rating_weight=-0.5)
    assert e.value.message == "rating_weight must be in [0, 1], got -0.5"
    with pytest.raises(CtrlabError) as e:
        client.run("0123456789ab")
    assert e.value.code == "NOT_FOUND"
    with pytest.raises(CtrlabError) as e:
        client.run("missing-run")
    assert e.value.code == "INVALID_ARGUMENT" and "12 lowercase hex digits" in e.value.message
    with pytest.raises(CtrlabError) as e:
        client.train("synthetic", "DCNV2", head="SOFT")
    assert e.value.code == "INVALID_ARGUMENT" and "head" in e.value.message


def test_cancel_by_tag_queue_position_and_delete(client):
    long = dict(QUICK, max_epochs=40)
    runs = [client.train("synthetic", "DCNV2", tags=["py-sweep"], **long) for _ in range(3)]
    positions = [r.info().queue_position for r in runs[1:]]
    assert positions in ([0, 1], [1, 2]), positions  # behind the running one (and the first, if not started yet)
    cancelled = client.cancel_runs(tag="py-sweep")
    assert sorted(cancelled) == sorted(r.run_id for r in runs)
    infos = [r.info() for r in runs]
    assert all(i.state == "CANCELLED" and i.cancelled_by == "local" for i in infos)
    assert runs[0].delete() >= 0
    with pytest.raises(CtrlabError) as e:
        runs[0].info()
    assert e.value.code == "NOT_FOUND"
    assert client.cancel_runs(tag="py-sweep") == []


def test_listing_pages_through_everything(client, finished):
    every = client.runs(limit=0)
    assert len(every) >= 2 and len({r.run_id for r in every}) == len(every)
    assert [r.run_id for r in client.runs(limit=1)] == [every[0].run_id]


def test_study_aggregates_over_seeds(client):
    st = client.start_study("py-study", "synthetic", ["DCNV2"], rating_weights=[0.5], seeds=[1, 2], max_epochs=1,
                            embedding_size=8, hyperparameters={"mlp_hidden_size": [16]})
    assert len(st.run_ids) == 4
    done = client.wait_study(st.study_id)
    assert done.finished
    assert [(r.head, r.finished) for r in done.rows] == [("BINARY", 2), ("RATING", 2)]
    assert done.comparisons[0].pairs == 2
    assert done.comparisons[0].ci95_low <= done.comparisons[0].delta_auc_mean <= done.comparisons[0].ci95_high
    assert done.rows[0].to_dict()["auc_mean"] == done.rows[0].auc_mean
    assert done.rows[0]["head"] == "BINARY", "dict-style access still works"
    frame = done.rows.to_frame()  # pandas: installed by the test script
    assert list(frame["head"]) == ["BINARY", "RATING"] and list(frame["finished"]) == [2, 2]
    assert list(done.comparisons.to_frame()["pairs"]) == [2]


def test_catalog(client):
    backbones = client.backbones()
    assert {"WideDeep", "NFM", "xDeepFM", "AutoInt", "FiGNN", "DCNV2", "EulerNet"} <= {b.name for b in backbones}
    dcn = next(b for b in backbones if b.name == "DCNV2")
    assert dcn.hyperparameters["mlp_hidden_size"].default == [256, 256, 256]
    assert dcn.hyperparameters["mlp_hidden_size"].is_list
    # Training defaults: a backbone's own (configs/models) over the shared ones (configs/training.yaml).
    wide = next(b for b in backbones if b.name == "WideDeep")
    assert wide.training["learning_rate"].default == 0.005 and dcn.training["learning_rate"].default == 0.001
    assert wide.training["batch_size"].default == 4096
    assert any(d.name == "synthetic" and d.available for d in client.datasets())
    info = client.info()
    assert info.device.startswith("/device:") and info.slots == 1 and info.user == "local" and info.admin


def test_tokens(tmp_path):
    (tmp_path / "tokens.txt").write_text("alice a-token\n")
    s = Server(tmp_path, "--tokens", str(tmp_path / "tokens.txt"))
    try:
        with Client(s.address) as anonymous:
            with pytest.raises(CtrlabError) as e:
                anonymous.info()
            assert e.value.code == "UNAUTHENTICATED"
        with Client(s.address, token="a-token") as alice:
            assert alice.info().user == "alice"
    finally:
        s.stop()


def test_examples_run_against_the_server(server, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "client-python" / "examples" / "compare_heads.py"),
                          "--server", server.address, "--epochs", "1", "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "RATING - BINARY" in out.stdout
    out = subprocess.run([sys.executable, str(ROOT / "client-python" / "examples" / "perturbation_curve.py"),
                          "--server", server.address, "--epochs", "1", "--quick", "--out", str(tmp_path / "curve")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "curve.csv").read_text().startswith("sigma,head,auc,logloss")


def test_tls_with_client_certificates(tmp_path):
    certs = tmp_path / "certs"
    subprocess.run(["bash", str(ROOT / "scripts" / "make-certs.sh"), str(certs), "ctrlab-test", "alice"],
                   check=True, capture_output=True)
    tokens = tmp_path / "tokens.txt"
    made = subprocess.run(["java", "-jar", str(ROOT / "server" / "target" / "ctrlab-server.jar"), "token", "add",
                           "alice", "--file", str(tokens)], check=True, capture_output=True, text=True)
    token = made.stdout.strip()
    assert token.startswith("ctl_") and token not in tokens.read_text()
    s = Server(tmp_path, "--tokens", str(tokens), "--tls-cert", str(certs / "server.pem"), "--tls-key",
               str(certs / "server.key"), "--tls-client-ca", str(certs / "ca.pem"))
    try:
        address = s.address.replace("127.0.0.1", "localhost")
        with Client(address, token=token, tls=True, root_certificates=str(certs / "ca.pem"),
                    certificate_chain=str(certs / "alice.pem"), private_key=str(certs / "alice.key")) as c:
            info = c.info()
            assert info.user == "alice" and info.tls
        with Client(address, token=token, tls=True, root_certificates=str(certs / "ca.pem"), timeout=3) as c:
            with pytest.raises(CtrlabError) as e:
                c.info()
            # No client certificate: the handshake fails; a read waits for a server it can reach until its deadline.
            assert e.value.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    finally:
        s.stop()


def test_a_token_in_clear_text_to_another_machine_is_warned_about():
    import warnings
    from ctrlab import InsecureTokenWarning
    # A channel connects only at its first call: none is made, nothing is sent (192.0.2.0/24 is for documentation).
    with pytest.warns(InsecureTokenWarning, match="without TLS"):
        Client("192.0.2.1:50051", token="secret").close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for local in ("localhost:50051", "127.0.0.1:1", "[::1]:50051", "dns:///localhost:9"):
            Client(local, token="secret").close()
        Client("192.0.2.1:50051").close()  # no token, nothing to warn about
