"""Tests that need a tool outside Python skip without it, except in CI, where its absence is a failure."""

import os
import shutil

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
