"""What the client returns: plain dataclasses, and :class:`Rows` for list-like results.

Every result has ``to_dict()``; every list-like result (runs, epochs, perturbation curves, study aggregates,
predictions) is a :class:`Rows`, a ``list`` with ``to_frame()`` giving a ``pandas.DataFrame`` when pandas is
installed. Nothing here needs pandas otherwise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Generic, Iterable, Iterator, List, Optional, TypeVar

from ctrlab.v1 import common_pb2

T = TypeVar("T")


class _Dict:
    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def __getitem__(self, key: str) -> Any:
        """``row["auc_mean"]`` as well as ``row.auc_mean`` (study rows were plain dicts before 0.3)."""
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


def _frame(rows: Iterable[Any]):
    try:
        import pandas as pd  # type: ignore
    except ImportError:
        raise ImportError("to_frame() needs pandas (pip install pandas, or Debian's python3-pandas); "
                          "to_dict() on each row needs nothing") from None
    return pd.DataFrame([r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in rows])


class Rows(List[T], Generic[T]):
    """A list of results; ``to_frame()`` makes a pandas DataFrame of them, one row each."""

    def to_frame(self):
        return _frame(self)


class Stream(Generic[T]):
    """Results that arrive as a stream (predictions): iterate once, lazily, or ``to_frame()``/``list()`` them."""

    def __init__(self, items: Iterator[T]):
        self._items = items

    def __iter__(self) -> Iterator[T]:
        return self._items

    def to_frame(self):
        return _frame(self._items)


def _value(v) -> object:
    kind = v.WhichOneof("kind")
    if kind == "list":
        return [int(x) if float(x).is_integer() else x for x in v.list.values]
    if kind == "number":
        return int(v.number) if float(v.number).is_integer() else v.number
    return getattr(v, kind) if kind else None


@dataclass
class Epoch(_Dict):
    """One finished epoch: the objective (``train_loss``) and its parts, the data losses apart from the
    backbone's regulariser (``ce_loss`` only for the RATING head, ``regularizer`` only for backbones with one)."""

    epoch: int
    train_loss: float
    bce_loss: float
    ce_loss: Optional[float]
    regularizer: Optional[float]
    valid_auc: float
    valid_logloss: float
    train_seconds: float
    eval_seconds: float
    best: bool

    @staticmethod
    def _of(e) -> "Epoch":
        return Epoch(e.epoch, e.train_loss, e.bce_loss, e.ce_loss if e.HasField("ce_loss") else None,
                     e.regularizer if e.HasField("regularizer") else None, e.valid_auc, e.valid_logloss,
                     e.train_seconds, e.eval_seconds, e.best)

    def __str__(self) -> str:
        parts = f"BCE {self.bce_loss:.4f}"
        if self.ce_loss is not None:
            parts += f"  CE {self.ce_loss:.4f}"
        if self.regularizer is not None:
            parts += f"  reg {self.regularizer:.4g}"
        return (f"epoch {self.epoch:3d}  {parts}  valid AUC {self.valid_auc:.4f}  LogLoss {self.valid_logloss:.4f}"
                f"  {self.train_seconds:.1f} s{'  *' if self.best else ''}")


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
    epoch_number: Optional[int] = None

    def __str__(self) -> str:
        if self.kind == "epoch" and self.epoch is not None:
            return str(self.epoch)
        if self.kind == "state":
            return f"[{self.state}] {self.message}"
        if self.kind == "batch":
            return f"epoch {self.epoch_number} batch {self.batch}/{self.batches}"
        if self.kind == "queue":
            return "queued: starts next" if self.position == 0 else f"queued: {self.position} run(s) ahead"
        return str(self.message)


@dataclass
class RunInfo(_Dict):
    """A run's record: its configuration as resolved, its state and, when SUCCEEDED, its metrics."""

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
    epochs: "Rows[Epoch]" = field(default_factory=Rows)
    queue_position: int = 0
    attempt: int = 0
    crashes: int = 0
    worker: str = ""
    cancelled_by: str = ""
    job_id: str = ""
    job_state: str = ""
    parameters: int = 0
    total_seconds: float = 0.0
    #: Seconds its cluster jobs waited in the cluster's queue (Slurm's PENDING), not counted against its limit.
    queued_seconds: float = 0.0
    max_epochs: int = 0
    created_unix_ms: int = 0
    started_unix_ms: int = 0
    finished_unix_ms: int = 0

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
            seconds_per_epoch=r.seconds_per_epoch, epochs=Rows(Epoch._of(e) for e in r.epochs),
            queue_position=r.queue_position, attempt=r.attempt, crashes=r.crashes, worker=r.worker,
            cancelled_by=r.cancelled_by, job_id=r.job_id, job_state=r.job_state, parameters=r.parameters,
            total_seconds=r.total_seconds, queued_seconds=r.queued_seconds, max_epochs=c.max_epochs,
            created_unix_ms=r.created_unix_ms,
            started_unix_ms=r.started_unix_ms, finished_unix_ms=r.finished_unix_ms)


class RunList(Rows[RunInfo]):
    """Runs; ``to_frame()`` has one row per run with its final metrics (its epochs: ``run.epochs.to_frame()``)."""

    def to_frame(self):
        return _frame({k: v for k, v in r.to_dict().items() if k not in ("epochs", "hyperparameters")}
                      for r in self)


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

    epochs: "Rows[Dict[str, float]]"
    weight_norms: Dict[str, float]
    steps: "Rows[Dict[str, float]]" = field(default_factory=Rows)
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
class StudyRow(_Dict):
    """One (backbone, head, lambda_r) cell of a study: test AUC/LogLoss mean and sample std over finished seeds."""

    backbone: str
    head: str
    rating_weight: float
    runs: int
    finished: int
    auc_mean: float
    auc_std: float
    logloss_mean: float
    logloss_std: float
    seconds_per_epoch: float
    epochs_mean: float


@dataclass
class StudyComparison(_Dict):
    """RATING minus BINARY test AUC for one backbone and lambda_r, paired by seed, with a 95% Student-t interval."""

    backbone: str
    rating_weight: float
    pairs: int
    delta_auc_mean: float
    ci95_low: float
    ci95_high: float


@dataclass
class StudyInfo(_Dict):
    """A study: its runs, its cells (``rows``) and its paired comparisons (``comparisons``); ``rows.to_frame()``
    and ``comparisons.to_frame()`` give them as tables."""

    study_id: str
    name: str
    owner: str
    dataset: str
    run_ids: List[str]
    finished: bool
    rows: "Rows[StudyRow]"
    comparisons: "Rows[StudyComparison]"

    @staticmethod
    def _of(s) -> "StudyInfo":
        rows = Rows(StudyRow(r.backbone, common_pb2.Head.Name(r.head), r.rating_weight, r.runs, r.finished,
                             r.auc_mean, r.auc_std, r.logloss_mean, r.logloss_std, r.seconds_per_epoch,
                             r.epochs_mean) for r in s.rows)
        comps = Rows(StudyComparison(c.backbone, c.rating_weight, c.pairs, c.delta_auc_mean, c.ci95_low, c.ci95_high)
                     for c in s.comparisons)
        return StudyInfo(s.study_id, s.name, s.owner, s.request.dataset, list(s.run_ids), s.finished, rows, comps)


@dataclass
class ParamInfo(_Dict):
    """One hyperparameter: its default and allowed range (``choices`` for text)."""

    name: str
    description: str
    default: object
    min: float
    max: float
    is_list: bool
    integer: bool
    choices: List[str]

    @staticmethod
    def _of(p) -> "ParamInfo":
        return ParamInfo(p.name, p.description, _value(p.default_value), p.min, p.max, p.is_list, p.integer,
                         list(p.choices))


@dataclass
class BackboneInfo(_Dict):
    """A backbone: its hyperparameters, and the training parameters with this backbone's defaults (its own
    learning rate, for one, over the defaults every backbone shares)."""

    name: str
    description: str
    hyperparameters: Dict[str, ParamInfo]
    training: Dict[str, ParamInfo] = field(default_factory=dict)

    @staticmethod
    def _of(b, shared=()) -> "BackboneInfo":
        training = {p.name: ParamInfo._of(p) for p in shared}
        training.update({p.name: ParamInfo._of(p) for p in b.training})
        return BackboneInfo(b.name, b.description, {p.name: ParamInfo._of(p) for p in b.hyperparameters}, training)


@dataclass
class DatasetInfo(_Dict):
    name: str
    description: str
    available: bool
    source: str
    fields: List[str]
    interactions: int
    users: int
    items: int

    @staticmethod
    def _of(d) -> "DatasetInfo":
        return DatasetInfo(d.name, d.description, d.available, d.source, list(d.fields), d.interactions, d.users,
                           d.items)


@dataclass
class ServerInfo(_Dict):
    version: str
    device: str
    tensorflow: str
    onednn: bool
    slots: int
    running: int
    queue_length: int
    queued_by_user: Dict[str, int]
    runs_by_state: Dict[str, int]
    max_queued_per_user: int
    user: str
    admin: bool
    auth_required: bool
    visibility: str
    tls: bool

    @staticmethod
    def _of(i) -> "ServerInfo":
        return ServerInfo(i.version, i.device, i.tensorflow_version, i.onednn, i.workers, i.running,
                          i.queue_length, dict(i.queued_by_user), dict(i.runs_by_state), i.max_queued_per_user,
                          i.user, i.admin, i.auth_required, i.visibility, i.tls)
