"""A thin, typed client over the ctrlab gRPC API (proto/ctrlab/v1).

Results are plain dataclasses; ``to_dict()`` (or ``dataclasses.asdict``) gives rows that ``pandas.DataFrame``
takes directly. Server errors are raised as :class:`CtrlabError` carrying the status code and the server's message.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Union

import grpc

try:
    from ctrlab.v1 import catalog_pb2, common_pb2, experiments_pb2, runs_pb2, service_pb2_grpc, studies_pb2
except ImportError as e:  # pragma: no cover - a clear message instead of a bare ImportError
    raise ImportError("ctrlab's generated gRPC modules are missing: run client-python/generate_stubs.sh") from e

Number = Union[int, float]


class CtrlabError(Exception):
    """A request the server refused or could not serve. ``code`` is the gRPC status name (e.g. ``NOT_FOUND``)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Dict:
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Epoch(_Dict):
    epoch: int
    train_loss: float
    valid_auc: float
    valid_logloss: float
    train_seconds: float
    eval_seconds: float
    best: bool

    @staticmethod
    def _of(e) -> "Epoch":
        return Epoch(e.epoch, e.train_loss, e.valid_auc, e.valid_logloss, e.train_seconds, e.eval_seconds, e.best)


@dataclass
class Event(_Dict):
    """One progress event. ``kind`` is ``state``, ``epoch``, ``log``, or, live only, ``batch`` (progress inside an
    epoch) or ``queue`` (a queued run's position: ``position`` runs start before it)."""

    index: int
    kind: str
    unix_ms: int
    state: Optional[str] = None
    message: Optional[str] = None
    epoch: Optional[Epoch] = None
    batch: Optional[int] = None
    batches: Optional[int] = None
    position: Optional[int] = None

    def __str__(self) -> str:
        if self.kind == "epoch":
            e = self.epoch
            return (f"epoch {e.epoch:3d}  loss {e.train_loss:.4f}  valid AUC {e.valid_auc:.4f}  "
                    f"LogLoss {e.valid_logloss:.4f}  {e.train_seconds:.1f} s{'  *' if e.best else ''}")
        if self.kind == "state":
            return f"[{self.state}] {self.message}"
        if self.kind == "batch":
            return f"batch {self.batch}/{self.batches}"
        if self.kind == "queue":
            return "queued: starts next" if self.position == 0 else f"queued: {self.position} run(s) ahead"
        return str(self.message)


@dataclass
class RunInfo(_Dict):
    run_id: str
    state: str
    owner: str
    dataset: str
    backbone: str
    head: str
    aggregation: str
    rating_weight: float
    hyperparameters: Dict[str, object]
    learning_rate: float
    batch_size: int
    seed: int
    name: str
    tags: List[str]
    message: str
    device: str
    best_epoch: int
    test_auc: Optional[float]
    test_logloss: Optional[float]
    valid_auc: Optional[float]
    valid_logloss: Optional[float]
    seconds_per_epoch: float
    epochs: List[Epoch] = field(default_factory=list)
    queue_position: int = 0
    attempt: int = 0
    crashes: int = 0
    worker: str = ""
    cancelled_by: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("SUCCEEDED", "FAILED", "CANCELLED")

    @staticmethod
    def _of(r) -> "RunInfo":
        c = r.resolved
        ok = r.state == common_pb2.SUCCEEDED
        return RunInfo(
            run_id=r.run_id, state=common_pb2.RunState.Name(r.state), owner=r.owner, dataset=c.dataset,
            backbone=c.backbone, head=common_pb2.Head.Name(c.head), aggregation=common_pb2.Aggregation.Name(
                c.aggregation), rating_weight=c.rating_weight,
            hyperparameters={k: _value(v) for k, v in c.hyperparameters.items()}, learning_rate=c.learning_rate,
            batch_size=c.batch_size, seed=c.seed, name=r.request.name, tags=list(r.request.tags),
            message=r.message, device=r.device, best_epoch=r.best_epoch,
            test_auc=r.test.auc if ok else None, test_logloss=r.test.logloss if ok else None,
            valid_auc=r.valid.auc if ok else None, valid_logloss=r.valid.logloss if ok else None,
            seconds_per_epoch=r.seconds_per_epoch, epochs=[Epoch._of(e) for e in r.epochs],
            queue_position=r.queue_position, attempt=r.attempt, crashes=r.crashes, worker=r.worker,
            cancelled_by=r.cancelled_by)


@dataclass
class EvalResult(_Dict):
    split: str
    auc: float
    logloss: float
    rows: int
    ranking: Dict[str, float] = field(default_factory=dict)


@dataclass
class PerturbRow(_Dict):
    sigma: float
    auc: float
    logloss: float
    rows: int


@dataclass
class Inspection(_Dict):
    """Gradient norms per epoch (``epochs``: one dict per epoch with ``<group>_mean``/``<group>_max``), weight
    norms of the best checkpoint, optional per-step norms and Lipschitz estimate."""

    epochs: List[Dict[str, float]]
    weight_norms: Dict[str, float]
    steps: List[Dict[str, float]] = field(default_factory=list)
    lipschitz: Optional[Dict[str, float]] = None


@dataclass
class Prediction(_Dict):
    row: int
    user: str
    item: str
    rating: float
    label: float
    score: float


@dataclass
class StudyInfo(_Dict):
    """A study: its runs and, per (backbone, head, lambda_r) cell, test AUC/LogLoss mean and std over seeds
    (``rows``), and the RATING - BINARY AUC paired by seed with a 95% interval (``comparisons``)."""

    study_id: str
    name: str
    dataset: str
    run_ids: List[str]
    finished: bool
    rows: List[Dict[str, object]]
    comparisons: List[Dict[str, object]]

    @staticmethod
    def _of(s) -> "StudyInfo":
        rows = [dict(backbone=r.backbone, head=common_pb2.Head.Name(r.head), rating_weight=r.rating_weight,
                     runs=r.runs, finished=r.finished, auc_mean=r.auc_mean, auc_std=r.auc_std,
                     logloss_mean=r.logloss_mean, logloss_std=r.logloss_std,
                     seconds_per_epoch=r.seconds_per_epoch, epochs_mean=r.epochs_mean) for r in s.rows]
        comps = [dict(backbone=c.backbone, rating_weight=c.rating_weight, pairs=c.pairs,
                      delta_auc_mean=c.delta_auc_mean, ci95_low=c.ci95_low, ci95_high=c.ci95_high)
                 for c in s.comparisons]
        return StudyInfo(s.study_id, s.name, s.request.dataset, list(s.run_ids), s.finished, rows, comps)


def _value(v) -> object:
    kind = v.WhichOneof("kind")
    if kind == "list":
        return [int(x) if float(x).is_integer() else x for x in v.list.values]
    if kind == "number":
        return int(v.number) if float(v.number).is_integer() else v.number
    return getattr(v, kind) if kind else None


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
    """A connection to a ctrlab server. ``token`` is sent as ``authorization: Bearer <token>`` when given.

    With ``tls=True`` the connection is TLS; ``root_certificates`` (PEM bytes or a file path) is the CA that signed
    the server's certificate (default: the system's), and ``certificate_chain``/``private_key`` are yours for a
    server that asks for client certificates (mutual TLS)."""

    def __init__(self, address: str = "localhost:50051", token: Optional[str] = None, timeout: float = 600.0, *,
                 tls: bool = False, root_certificates: Union[bytes, str, None] = None,
                 certificate_chain: Union[bytes, str, None] = None, private_key: Union[bytes, str, None] = None):
        self.address = address
        if tls or root_certificates is not None or certificate_chain is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=_pem(root_certificates),
                                                 private_key=_pem(private_key),
                                                 certificate_chain=_pem(certificate_chain))
            self._channel = grpc.secure_channel(address, creds)
        else:
            self._channel = grpc.insecure_channel(address)
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
            return getattr(self._stub, method)(request, metadata=self._metadata, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            raise CtrlabError(e.code().name, e.details() or "") from None

    # Runs ---------------------------------------------------------------------------------------------------------

    def train(self, dataset: str, backbone: str, head: str = "BINARY", *, rating_weight: Optional[float] = None,
              aggregation: Optional[str] = None, hyperparameters: Optional[Dict[str, object]] = None,
              embedding_size: Optional[int] = None, learning_rate: Optional[float] = None,
              weight_decay: Optional[float] = None, batch_size: Optional[int] = None,
              max_epochs: Optional[int] = None, patience: Optional[int] = None, seed: Optional[int] = None,
              name: str = "", tags: Sequence[str] = ()) -> "Run":
        """Queues a training run and returns its handle at once. Unset values take the server's defaults."""
        req = runs_pb2.TrainRequest(dataset=dataset, backbone=backbone,
                                    head=_enum(common_pb2.Head, head, "head"),
                                    aggregation=_enum(common_pb2.Aggregation, aggregation, "aggregation"),
                                    name=name, tags=list(tags))
        for k, v in (hyperparameters or {}).items():
            req.hyperparameters[k].CopyFrom(_param(v))
        for attr, v in (("rating_weight", rating_weight), ("embedding_size", embedding_size),
                        ("learning_rate", learning_rate), ("weight_decay", weight_decay),
                        ("batch_size", batch_size), ("max_epochs", max_epochs), ("patience", patience),
                        ("seed", seed)):
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
             tag: str = "", owner: str = "", limit: int = 100) -> List[RunInfo]:
        """Runs matching the filters, newest first, at most ``limit`` of them (0 for all), fetched page by page."""
        states = [state] if isinstance(state, str) else list(state or [])
        out: List[RunInfo] = []
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

    def cancel_runs(self, *, study: str = "", tag: str = "") -> List[str]:
        """Cancels every queued or running run of yours in a study or with a tag; returns their ids."""
        req = runs_pb2.CancelRunsRequest(study_id=study, tag=tag)
        return list(self._call("CancelRuns", req).run_ids)

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

    def wait_study(self, study_id: str) -> StudyInfo:
        """Blocks until every run of the study has ended and returns the aggregate."""
        for rid in self.study(study_id).run_ids:
            Run(self, rid).wait()
        return self.study(study_id)

    # Catalog ------------------------------------------------------------------------------------------------------

    def backbones(self) -> List[dict]:
        resp = self._call("ListBackbones", catalog_pb2.ListBackbonesRequest())
        return [{"name": b.name, "description": b.description,
                 "hyperparameters": {p.name: {"default": _value(p.default_value), "min": p.min, "max": p.max,
                                              "description": p.description} for p in b.hyperparameters}}
                for b in resp.backbones]

    def datasets(self) -> List[dict]:
        resp = self._call("ListDatasets", catalog_pb2.ListDatasetsRequest())
        return [{"name": d.name, "available": d.available, "interactions": d.interactions, "users": d.users,
                 "items": d.items, "description": d.description} for d in resp.datasets]

    def info(self) -> dict:
        i = self._call("GetServerInfo", catalog_pb2.ServerInfoRequest())
        return {"version": i.version, "device": i.device, "tensorflow": i.tensorflow_version,
                "queue_length": i.queue_length, "workers": i.workers, "running": i.running,
                "max_queued_per_user": i.max_queued_per_user, "user": i.user,
                "auth_required": i.auth_required, "onednn": i.onednn, "admin": i.admin, "visibility": i.visibility,
                "queued_by_user": dict(i.queued_by_user), "runs_by_state": dict(i.runs_by_state), "tls": i.tls}


class Run:
    """A run on the server, by id."""

    def __init__(self, client: Client, run_id: str):
        self.client = client
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"

    def info(self) -> RunInfo:
        return RunInfo._of(self.client._call("GetRun", runs_pb2.GetRunRequest(run_id=self.run_id)))

    def watch(self, from_index: int = 0, progress: bool = False, retries: int = 30) -> Iterator[Event]:
        """Yields the run's events from ``from_index`` until it ends, reconnecting after a dropped connection
        without losing or repeating an event. ``progress`` also yields live batch events."""
        next_index = from_index
        failures = 0
        while True:
            try:
                stream = self.client._stub.WatchRun(
                    runs_pb2.WatchRunRequest(run_id=self.run_id, from_index=next_index),
                    metadata=self.client._metadata)
                for e in stream:
                    failures = 0
                    kind = e.WhichOneof("kind")
                    if kind == "batch":
                        if progress:
                            yield Event(e.index, "batch", e.unix_ms, batch=e.batch.batch, batches=e.batch.batches)
                        continue
                    if kind == "queue":
                        if progress:
                            yield Event(e.index, "queue", e.unix_ms, position=e.queue.position)
                        continue
                    next_index = e.index + 1
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

    def wait(self) -> RunInfo:
        """Blocks until the run ends and returns its record."""
        for _ in self.watch():
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
                split: str = "TEST") -> List[PerturbRow]:
        req = experiments_pb2.PerturbRequest(run_id=self.run_id, sigmas=[float(s) for s in sigmas],
                                             noise_seed=noise_seed,
                                             mode=_enum(experiments_pb2.PerturbMode, mode, "mode"),
                                             split=_enum(common_pb2.Split, split, "split"))
        return [PerturbRow(r.sigma, r.metrics.auc, r.metrics.logloss, r.metrics.rows)
                for r in self.client._call("Perturb", req).results]

    def inspect(self, per_step: bool = False, lipschitz: bool = False, lipschitz_rows: int = 0) -> Inspection:
        req = experiments_pb2.InspectRequest(run_id=self.run_id, per_step=per_step, lipschitz=lipschitz,
                                             lipschitz_rows=lipschitz_rows)
        r = self.client._call("Inspect", req)
        epochs = []
        for e in r.epochs:
            row = {"epoch": e.epoch}
            for g in e.gradient:
                row[f"{g.group}_mean"] = g.mean
                row[f"{g.group}_max"] = g.max
            epochs.append(row)
        steps = [dict(step=s.step, **dict(s.gradient)) for s in r.steps]
        lip = None
        if r.HasField("lipschitz"):
            lip = {"mean": r.lipschitz.mean, "median": r.lipschitz.median, "p95": r.lipschitz.p95,
                   "max": r.lipschitz.max, "rows": r.lipschitz.rows}
        return Inspection(epochs, dict(r.weight_norms), steps, lip)

    def predictions(self, split: str = "TEST", limit: int = 0) -> Iterator[Prediction]:
        req = experiments_pb2.PredictRequest(run_id=self.run_id, split=_enum(common_pb2.Split, split, "split"),
                                             limit=limit)
        try:
            for batch in self.client._stub.Predict(req, metadata=self.client._metadata):
                for p in batch.rows:
                    yield Prediction(p.row, p.user, p.item, p.rating, p.label, p.score)
        except grpc.RpcError as e:
            raise CtrlabError(e.code().name, e.details() or "") from None
