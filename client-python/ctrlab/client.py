"""A typed client over the ctrlab gRPC API (proto/ctrlab/v1).

Results are dataclasses (:mod:`ctrlab.results`); list-like ones have ``to_frame()``. Server errors are raised as
:class:`CtrlabError` carrying the status code and the server's message. Calls that change nothing (reads and
analyses) wait for a server that is restarting or briefly unreachable, and gRPC retries them with backoff when the
server answers UNAVAILABLE; calls that queue work (train, start_study) are sent once.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import sys
import time
import warnings
from typing import Dict, Iterator, Optional, Sequence, Union

import grpc

try:
    from ctrlab.v1 import catalog_pb2, common_pb2, experiments_pb2, runs_pb2, service_pb2_grpc, studies_pb2
except ImportError as e:  # pragma: no cover - a clear message instead of a bare ImportError
    raise ImportError("ctrlab's generated gRPC modules are missing: install the package (pip install"
                      " ./client-python) or run client-python/generate_stubs.sh in a clone") from e

from ctrlab import config
from ctrlab.results import (BackboneInfo, DatasetInfo, Epoch, EvalResult, Event, Inspection, PerturbRow,
                            Prediction, Rows, RunInfo, RunList, ServerInfo, Stream, StudyInfo)

Number = Union[int, float]

#: Methods that change nothing on the server: safe to wait for and to retry.
IDEMPOTENT = ("GetRun", "ListRuns", "WatchRun", "Evaluate", "Predict", "Perturb", "Inspect", "GetStudy",
              "ListStudies", "ListBackbones", "ListDatasets", "GetServerInfo", "CancelRun", "CancelRuns")

_SERVICE_CONFIG = json.dumps({"methodConfig": [{
    "name": [{"service": "ctrlab.v1.Ctrlab", "method": m} for m in IDEMPOTENT],
    "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.5s", "maxBackoff": "8s", "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"]}}]})


class InsecureTokenWarning(UserWarning):
    """A token is about to be sent in clear text to a host that is not this machine."""


def _is_loopback(address: str) -> bool:
    """Whether a gRPC target (host:port, [v6]:port, dns:///host:port, unix:...) names this machine; a name that does
    not resolve counts as remote."""
    t = address.strip()
    if t.startswith("unix:"):
        return True
    if t.startswith("dns:"):
        t = t[4:].lstrip("/") if not t.startswith("dns://") else t[6:].split("/", 1)[-1]
    if t.startswith("["):
        host = t[1:t.find("]")]
    elif t.count(":") == 1:
        host = t.split(":")[0]
    else:
        host = t
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


class CtrlabError(Exception):
    """A request the server refused or could not serve. ``code`` is the gRPC status name (e.g. ``NOT_FOUND``)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _param(v) -> "common_pb2.ParamValue":
    if isinstance(v, bool):
        return common_pb2.ParamValue(flag=v)
    if isinstance(v, (int, float)):
        return common_pb2.ParamValue(number=float(v))
    if isinstance(v, str):
        return common_pb2.ParamValue(text=v)
    return common_pb2.ParamValue(list=common_pb2.NumberList(values=[float(x) for x in v]))


def _enum(enum, name: Optional[str], what: str) -> int:
    if name is None:
        return 0
    try:
        return enum.Value(name.upper())
    except ValueError:
        raise CtrlabError("INVALID_ARGUMENT", f"unknown {what} {name!r}; use one of "
                          f"{[n for n in enum.keys() if not n.endswith('UNSPECIFIED')]}") from None


def _pem(v: Union[bytes, str, None]) -> Optional[bytes]:
    if v is None or isinstance(v, bytes):
        return v
    with open(v, "rb") as f:
        return f.read()


class Client:
    """A connection to a ctrlab server.

    Every argument left out comes from the environment or the config file as for the CLI (:mod:`ctrlab.config`):
    ``address`` from CTRLAB_SERVER, ``token`` (sent as ``authorization: Bearer <token>``) from CTRLAB_TOKEN, TLS from
    CTRLAB_TLS / CTRLAB_CA_CERT. With ``tls=True`` the connection is TLS; ``root_certificates`` (PEM bytes or a file
    path) is the CA that signed the server's certificate (default: the system's), and ``certificate_chain`` /
    ``private_key`` are yours for a server that asks for client certificates. ``timeout`` bounds each call in
    seconds; reads wait that long for a server that is unreachable.
    """

    def __init__(self, address: Optional[str] = None, token: Optional[str] = None, timeout: float = 600.0, *,
                 tls: Optional[bool] = None, root_certificates: Union[bytes, str, None] = None,
                 certificate_chain: Union[bytes, str, None] = None, private_key: Union[bytes, str, None] = None):
        self.address = config.setting("server", address) or "localhost:50051"
        token = config.setting("token", token)
        root_certificates = root_certificates if root_certificates is not None else config.setting("ca_cert")
        certificate_chain = certificate_chain if certificate_chain is not None else config.setting("client_cert")
        private_key = private_key if private_key is not None else config.setting("client_key")
        options = [("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1)]
        if config.flag("tls", tls) or root_certificates is not None or certificate_chain is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=_pem(root_certificates),
                                                 private_key=_pem(private_key),
                                                 certificate_chain=_pem(certificate_chain))
            self._channel = grpc.secure_channel(self.address, creds, options=options)
        else:
            if token and not _is_loopback(self.address):
                warnings.warn(f"sending your token to {self.address} without TLS: anyone on the network path can read"
                              " it and act as you; use tls=True (with root_certificates) for a server on another"
                              " machine", InsecureTokenWarning, stacklevel=2)
            self._channel = grpc.insecure_channel(self.address, options=options)
        self._stub = service_pb2_grpc.CtrlabStub(self._channel)
        self._metadata = [("authorization", f"Bearer {token}")] if token else []
        self.timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, request, timeout: Optional[float] = None):
        try:
            return getattr(self._stub, method)(request, metadata=self._metadata, timeout=timeout or self.timeout,
                                               wait_for_ready=method in IDEMPOTENT)
        except grpc.RpcError as e:
            raise CtrlabError(e.code().name, e.details() or "") from None

    # Runs ---------------------------------------------------------------------------------------------------------

    def train(self, dataset: str, backbone: str, head: str = "BINARY", *, rating_weight: Optional[float] = None,
              aggregation: Optional[str] = None, hyperparameters: Optional[Dict[str, object]] = None,
              embedding_size: Optional[int] = None, learning_rate: Optional[float] = None,
              weight_decay: Optional[float] = None, batch_size: Optional[int] = None,
              max_epochs: Optional[int] = None, patience: Optional[int] = None, seed: Optional[int] = None,
              name: str = "", tags: Sequence[str] = (), max_hours: Optional[float] = None,
              bf16: bool = False) -> "Run":
        """Queues a training run and returns its handle at once. Unset values take the server's defaults;
        ``max_hours`` ends the run as FAILED that long after its first start, time in a cluster's queue not
        counted (at most the server's limit);
        ``bf16`` trains in bfloat16 with float32 master weights where the server can (``info().bf16`` says)."""
        req = runs_pb2.TrainRequest(dataset=dataset, backbone=backbone,
                                    head=_enum(common_pb2.Head, head, "head"),
                                    aggregation=_enum(common_pb2.Aggregation, aggregation, "aggregation"),
                                    name=name, tags=list(tags), bf16=bf16)
        for k, v in (hyperparameters or {}).items():
            req.hyperparameters[k].CopyFrom(_param(v))
        for attr, v in (("rating_weight", rating_weight), ("embedding_size", embedding_size),
                        ("learning_rate", learning_rate), ("weight_decay", weight_decay),
                        ("batch_size", batch_size), ("max_epochs", max_epochs), ("patience", patience),
                        ("seed", seed), ("max_hours", max_hours)):
            if v is not None:
                setattr(req, attr, v)
        resp = self._call("Train", req)
        return Run(self, resp.run_id)

    def run(self, run_id: str) -> "Run":
        """A handle on an existing run (checked to exist)."""
        r = Run(self, run_id)
        r.info()
        return r

    def runs(self, *, state: Union[str, Sequence[str], None] = None, backbone: str = "", dataset: str = "",
             tag: str = "", owner: str = "", limit: int = 100) -> RunList:
        """Runs matching the filters, newest first, at most ``limit`` of them (0 for all), fetched page by page."""
        states = [state] if isinstance(state, str) else list(state or [])
        out = RunList()
        token = ""
        while True:
            want = 100 if limit == 0 else min(100, limit - len(out))
            req = runs_pb2.ListRunsRequest(states=[_enum(common_pb2.RunState, s, "state") for s in states],
                                           backbone=backbone, dataset=dataset, tag=tag, owner=owner, limit=want,
                                           page_token=token)
            page = self._call("ListRuns", req)
            out.extend(RunInfo._of(r) for r in page.runs)
            token = page.next_page_token
            if not token or (limit and len(out) >= limit):
                return out

    def cancel_runs(self, *, study: str = "", tag: str = "") -> Rows[str]:
        """Cancels every queued or running run of yours in a study or with a tag; returns their ids."""
        req = runs_pb2.CancelRunsRequest(study_id=study, tag=tag)
        return Rows(self._call("CancelRuns", req).run_ids)

    # Studies ------------------------------------------------------------------------------------------------------

    def start_study(self, name: str, dataset: str, backbones: Sequence[str], *, heads: Sequence[str] = (),
                    rating_weights: Sequence[float] = (), seeds: Sequence[int] = (),
                    max_epochs: Optional[int] = None, hyperparameters: Optional[Dict[str, object]] = None,
                    **settings) -> StudyInfo:
        """Queues a grid of runs (backbones x heads x rating weights x seeds) as one study. ``settings`` are
        other TrainRequest fields (learning_rate, batch_size, embedding_size, patience, ...)."""
        base = runs_pb2.TrainRequest(**settings)
        if max_epochs is not None:
            base.max_epochs = max_epochs
        for k, v in (hyperparameters or {}).items():
            base.hyperparameters[k].CopyFrom(_param(v))
        req = studies_pb2.StudyRequest(name=name, dataset=dataset, backbones=list(backbones),
                                       heads=[_enum(common_pb2.Head, h, "head") for h in heads],
                                       rating_weights=list(rating_weights), seeds=list(seeds), base=base)
        return StudyInfo._of(self._call("StartStudy", req))

    def study(self, study_id: str) -> StudyInfo:
        return StudyInfo._of(self._call("GetStudy", studies_pb2.GetStudyRequest(study_id=study_id)))

    def studies(self, limit: int = 50) -> Rows[StudyInfo]:
        return Rows(StudyInfo._of(s) for s in self._call("ListStudies",
                                                         studies_pb2.ListStudiesRequest(limit=limit)).studies)

    def wait_study(self, study_id: str) -> StudyInfo:
        """Blocks until every run of the study has ended and returns the aggregate."""
        for rid in self.study(study_id).run_ids:
            Run(self, rid).wait(progress=False)
        return self.study(study_id)

    # Catalog ------------------------------------------------------------------------------------------------------

    def backbones(self) -> Rows[BackboneInfo]:
        resp = self._call("ListBackbones", catalog_pb2.ListBackbonesRequest())
        return Rows(BackboneInfo._of(b, resp.training) for b in resp.backbones)

    def datasets(self) -> Rows[DatasetInfo]:
        resp = self._call("ListDatasets", catalog_pb2.ListDatasetsRequest())
        return Rows(DatasetInfo._of(d) for d in resp.datasets)

    def info(self) -> ServerInfo:
        return ServerInfo._of(self._call("GetServerInfo", catalog_pb2.ServerInfoRequest()))


def _progress_bar(enabled: Optional[bool]):
    """tqdm's bar class when wanted (None: when tqdm is installed), else None."""
    if enabled is False:
        return None
    try:
        from tqdm import tqdm  # type: ignore
    except ImportError:
        if enabled:
            raise ImportError("progress=True needs tqdm (pip install tqdm, or Debian's python3-tqdm)") from None
        return None
    return tqdm


class Run:
    """A run on the server, by id."""

    def __init__(self, client: Client, run_id: str):
        self.client = client
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"

    def info(self) -> RunInfo:
        return RunInfo._of(self.client._call("GetRun", runs_pb2.GetRunRequest(run_id=self.run_id)))

    def watch(self, from_index: int = 0, progress: bool = False, retries: int = 30,
              bar: Optional[bool] = None) -> Iterator[Event]:
        """Yields the run's events from ``from_index`` until it ends, reconnecting after a dropped connection
        without losing or repeating an event. ``progress`` also yields the live ``batch`` and ``queue`` events.

        While it runs, a progress bar of the current epoch's batches is drawn on standard error when tqdm is
        installed (``bar=False``: never; ``bar=True``: tqdm is required); it clears itself when the epoch ends."""
        bar_class = _progress_bar(bar)
        shown = None
        next_index = from_index
        failures = 0
        try:
            while True:
                try:
                    stream = self.client._stub.WatchRun(
                        runs_pb2.WatchRunRequest(run_id=self.run_id, from_index=next_index),
                        metadata=self.client._metadata)
                    for e in stream:
                        failures = 0
                        kind = e.WhichOneof("kind")
                        if kind == "batch":
                            if bar_class is not None:
                                desc = f"epoch {e.batch.epoch}"
                                if shown is None or shown.desc != desc:
                                    if shown is not None:
                                        shown.close()
                                    shown = bar_class(total=e.batch.batches, desc=desc, file=sys.stderr,
                                                      leave=False, unit="batch")
                                shown.update(e.batch.batch - shown.n)
                            if progress:
                                yield Event(e.index, "batch", e.unix_ms, batch=e.batch.batch,
                                            batches=e.batch.batches, epoch_number=e.batch.epoch)
                            continue
                        if kind == "queue":
                            if progress:
                                yield Event(e.index, "queue", e.unix_ms, position=e.queue.position)
                            continue
                        next_index = e.index + 1
                        if shown is not None and kind in ("epoch", "state"):
                            shown.close()
                            shown = None
                        if kind == "state":
                            yield Event(e.index, "state", e.unix_ms, state=common_pb2.RunState.Name(e.state.state),
                                        message=e.state.message)
                        elif kind == "epoch":
                            yield Event(e.index, "epoch", e.unix_ms, epoch=Epoch._of(e.epoch))
                        else:
                            yield Event(e.index, "log", e.unix_ms, message=e.log)
                    return
                except grpc.RpcError as err:
                    if err.code() != grpc.StatusCode.UNAVAILABLE or failures >= retries:
                        raise CtrlabError(err.code().name, err.details() or "") from None
                    failures += 1
                    time.sleep(min(5.0, 0.2 * failures))
        finally:
            if shown is not None:
                shown.close()

    def wait(self, progress: Optional[bool] = None) -> RunInfo:
        """Blocks until the run ends and returns its record, with :meth:`watch`'s progress bar when tqdm is
        installed (``progress=False``: never)."""
        for _ in self.watch(bar=progress):
            pass
        return self.info()

    result = wait

    def cancel(self) -> RunInfo:
        return RunInfo._of(self.client._call("CancelRun", runs_pb2.CancelRunRequest(run_id=self.run_id)))

    def delete(self) -> int:
        """Deletes this finished run of yours with everything stored for it; returns the bytes of files freed."""
        return self.client._call("DeleteRun", runs_pb2.DeleteRunRequest(run_id=self.run_id)).bytes_freed

    def evaluate(self, split: str = "TEST", ranking_k: Sequence[int] = (), ranking_negatives: int = 0,
                 ranking_seed: int = 0) -> EvalResult:
        req = experiments_pb2.EvaluateRequest(run_id=self.run_id, split=_enum(common_pb2.Split, split, "split"),
                                              ranking_k=list(ranking_k), ranking_negatives=ranking_negatives,
                                              ranking_seed=ranking_seed)
        m = self.client._call("Evaluate", req).metrics
        return EvalResult(split.upper(), m.auc, m.logloss, m.rows, dict(m.ranking))

    def perturb(self, sigmas: Sequence[Number], noise_seed: int = 0, mode: str = "INPUT",
                split: str = "TEST") -> Rows[PerturbRow]:
        """AUC and LogLoss under Gaussian noise on the embeddings, one row per sigma (``.to_frame()``: a curve)."""
        req = experiments_pb2.PerturbRequest(run_id=self.run_id, sigmas=[float(s) for s in sigmas],
                                             noise_seed=noise_seed,
                                             mode=_enum(experiments_pb2.PerturbMode, mode, "mode"),
                                             split=_enum(common_pb2.Split, split, "split"))
        return Rows(PerturbRow(r.sigma, r.metrics.auc, r.metrics.logloss, r.metrics.rows)
                    for r in self.client._call("Perturb", req).results)

    def inspect(self, per_step: bool = False, lipschitz: bool = False, lipschitz_rows: int = 0) -> Inspection:
        req = experiments_pb2.InspectRequest(run_id=self.run_id, per_step=per_step, lipschitz=lipschitz,
                                             lipschitz_rows=lipschitz_rows)
        r = self.client._call("Inspect", req)
        epochs = Rows()
        for e in r.epochs:
            row = {"epoch": e.epoch}
            for g in e.gradient:
                row[f"{g.group}_mean"] = g.mean
                row[f"{g.group}_max"] = g.max
            epochs.append(row)
        steps = Rows(dict(step=s.step, **dict(s.gradient)) for s in r.steps)
        lip = None
        if r.HasField("lipschitz"):
            lip = {"mean": r.lipschitz.mean, "median": r.lipschitz.median, "p95": r.lipschitz.p95,
                   "max": r.lipschitz.max, "rows": r.lipschitz.rows}
        return Inspection(epochs, dict(r.weight_norms), steps, lip)

    def predictions(self, split: str = "TEST", limit: int = 0) -> Stream[Prediction]:
        """Per-row predictions, streamed (iterate them lazily, or ``.to_frame()``)."""
        req = experiments_pb2.PredictRequest(run_id=self.run_id, split=_enum(common_pb2.Split, split, "split"),
                                             limit=limit)

        def rows() -> Iterator[Prediction]:
            try:
                for batch in self.client._stub.Predict(req, metadata=self.client._metadata, wait_for_ready=True,
                                                       timeout=self.client.timeout):
                    for p in batch.rows:
                        yield Prediction(p.row, p.user, p.item, p.rating, p.label, p.score)
            except grpc.RpcError as e:
                raise CtrlabError(e.code().name, e.details() or "") from None

        return Stream(rows())
