"""Python client for a ctrlab server.

>>> from ctrlab import Client
>>> with Client() as c:                      # CTRLAB_SERVER / the config file, else localhost:50051
...     run = c.train("synthetic", "DCNV2", head="RATING")
...     info = run.wait()                    # a progress bar when tqdm is installed
...     info.epochs.to_frame()               # pandas, when installed
"""

from ctrlab.client import IDEMPOTENT, Client, CtrlabError, InsecureTokenWarning, Run
from ctrlab.results import (BackboneInfo, DatasetInfo, Epoch, EvalResult, Event, Inspection, ParamInfo,
                            PerturbRow, Prediction, Rows, RunInfo, RunList, ServerInfo, Stream, StudyComparison,
                            StudyInfo, StudyRow)

__all__ = ["BackboneInfo", "Client", "CtrlabError", "DatasetInfo", "Epoch", "EvalResult", "Event", "IDEMPOTENT",
           "InsecureTokenWarning", "Inspection", "ParamInfo", "PerturbRow", "Prediction", "Rows", "Run", "RunInfo", "RunList", "ServerInfo",
           "Stream", "StudyComparison", "StudyInfo", "StudyRow"]
__version__ = "0.3.0"
