"""Python client for a ctrlab server.

>>> from ctrlab import Client
>>> c = Client("localhost:50051")
>>> run = c.train(dataset="synthetic", backbone="DCNV2", head="RATING")
>>> for event in run.watch():
...     print(event)
>>> run.result().test_auc
"""

from ctrlab.client import (  # noqa: F401
    Client,
    CtrlabError,
    Epoch,
    Event,
    EvalResult,
    Inspection,
    PerturbRow,
    Prediction,
    Run,
    RunInfo,
    StudyInfo,
)

__all__ = ["Client", "CtrlabError", "Epoch", "Event", "EvalResult", "Inspection", "PerturbRow", "Prediction",
           "Run", "RunInfo", "StudyInfo"]
__version__ = "0.1.0"
