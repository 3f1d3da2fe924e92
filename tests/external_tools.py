"""Tests that need a tool outside Python skip without it, except in CI, where its absence is a failure."""

import os
import shutil
import socket

import pytest


def require_executable(name: str, why: str) -> str:
    """The path of executable name, or skip (fail when CI=true) saying why it is needed."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed; it is needed to {why}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true, so this is a failure, not a skip)")
    pytest.skip(message)


def require_service(name: str, host: str, port: int, why: str) -> None:
    """Skip (fail when CI=true) unless something listens on host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        message = f"{name} is not reachable on {host}:{port} ({error}); it is needed to {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true, so this is a failure, not a skip)")
        pytest.skip(message)
