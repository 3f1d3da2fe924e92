"""Tests that need a tool outside Python skip without it, except in CI, where its absence is a failure."""

import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn

import pytest


def missing(message: str) -> NoReturn:
    """Skip saying message, or fail with it when CI=true: a missing tool must not pass a CI run unnoticed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true, so this is a failure, not a skip)")
    pytest.skip(message)


# Debian installs daemons such as nginx in the sbin folders, which a non-login PATH often lacks.
SYSTEM_FOLDERS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def require_executable(name: str, why: str) -> str:
    """The path of executable name on PATH or in the sbin folders, or skip (fail when CI=true) saying why."""
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", os.defpath), *SYSTEM_FOLDERS]))
    if not path:
        missing(f"{name} is not installed; it is needed to {why}")
    return path


def require_path(path: Path, why: str) -> None:
    """Skip (fail when CI=true) unless path exists, saying why it is needed."""
    if not path.exists():
        missing(f"{path} is missing; it is needed to {why}")


def require_service(name: str, host: str, port: int, why: str) -> None:
    """Skip (fail when CI=true) unless something listens on host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        missing(f"{name} is not reachable on {host}:{port} ({error}); it is needed to {why}")
