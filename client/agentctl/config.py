"""Where agentctl keeps its settings and credentials.

Config and tokens live in ``$XDG_CONFIG_HOME/agentctl`` (default ``~/.config/agentctl``).
Credentials are stored per base URL, so one machine can talk to a local stack and a
deployed service without logging out; the file is written with mode 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
_CONFIG_FILE = "config.json"
_CREDENTIALS_FILE = "credentials.json"


def config_dir() -> Path:
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root) / "agentctl"


def _read(name: str) -> dict[str, Any]:
    path = config_dir() / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_private(name: str, data: dict[str, Any]) -> Path:
    """Atomically replace the file; it is created 0600 so tokens are never world-readable."""
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / name
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def load_config() -> dict[str, Any]:
    return _read(_CONFIG_FILE)


def save_config(values: dict[str, Any]) -> Path:
    return _write_private(_CONFIG_FILE, values)


def resolve_base_url(flag: str | None) -> str:
    """``--base-url`` beats ``AGENTCTL_BASE_URL`` beats the config file beats the default."""
    url = flag or os.environ.get("AGENTCTL_BASE_URL") or load_config().get("base_url") or DEFAULT_BASE_URL
    return check_base_url(str(url))


class BadBaseUrl(ValueError):
    pass


def check_base_url(url: str) -> str:
    """The URL without a trailing slash; ``BadBaseUrl`` (one line for humans) unless http(s)://host."""
    from urllib.parse import urlsplit

    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = url.split("://", 1)[-1]
        raise BadBaseUrl(f"base URL '{url}' needs a scheme and a host: use http://{hint} or https://{hint}")
    return url


def load_credentials(base_url: str) -> dict[str, Any] | None:
    entry = _read(_CREDENTIALS_FILE).get(base_url)
    return entry if isinstance(entry, dict) else None


def save_credentials(base_url: str, credentials: dict[str, Any]) -> Path:
    everything = _read(_CREDENTIALS_FILE)
    everything[base_url] = credentials
    return _write_private(_CREDENTIALS_FILE, everything)


def forget_credentials(base_url: str) -> None:
    everything = _read(_CREDENTIALS_FILE)
    if everything.pop(base_url, None) is not None:
        _write_private(_CREDENTIALS_FILE, everything)
