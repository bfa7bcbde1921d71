"""Where a client connects, as the CLI decides it: an argument, else the environment (CTRLAB_SERVER,
CTRLAB_TOKEN, CTRLAB_TLS, CTRLAB_CA_CERT, CTRLAB_CLIENT_CERT, CTRLAB_CLIENT_KEY), else the config file
(``$XDG_CONFIG_HOME/ctrlab/config.properties`` or ``~/.config/ctrlab/config.properties``: ``server=``, ``token=``,
``tls=true``, ``ca_cert=``, ``client_cert=``, ``client_key=``), else localhost:50051 in plaintext.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional

KEYS = ("server", "token", "tls", "ca_cert", "client_cert", "client_key")


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ctrlab" / "config.properties"


def _read_properties(path: Path) -> Dict[str, str]:
    out: Dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        for sep in ("=", ":"):
            if sep in line:
                k, v = line.split(sep, 1)
                out[k.strip()] = v.strip()
                break
    return out


def setting(key: str, given: Optional[str] = None) -> Optional[str]:
    """A setting: the given value, else CTRLAB_<KEY>, else the config file's, else None."""
    if given is not None:
        return given
    env = os.environ.get("CTRLAB_" + key.upper())
    if env:
        return env
    return _read_properties(config_file()).get(key) or None


def flag(key: str, given: Optional[bool] = None) -> bool:
    if given is not None:
        return given
    v = setting(key)
    return v is not None and v.strip().lower() in ("1", "true", "yes", "on")
