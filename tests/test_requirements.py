"""Every third-party package the code imports is pinned exactly, the server's in requirements.txt."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.live_server import REPO_ROOT

APP_SOURCES = sorted(path.name for path in REPO_ROOT.glob("*.py"))  # app.py and the modules beside it
APP_PACKAGES = ["cli", "config", "db_models", "jobs", "migrations", "pix", "psp_simulator", "repository", "routes"]
# What the running server loads without importing it by name: the websocket layers Socket.IO picks at run time.
RUNTIME = {"python-engineio", "simple-websocket"}


def pinned(path: Path) -> set[str]:
    """Distribution names pinned with == in a requirements file (and those it includes with -r)."""
    names = set()
    for line in path.read_text().splitlines():
        if line.startswith("-r "):
            names |= pinned(path.parent / line.split()[1])
        elif match := re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==[0-9][^\s]*", line.strip()):
            names.add(normalized(match[1]))
    return names


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions(files: list[Path]) -> set[str]:
    """Distributions providing the top-level modules files import, standard library and project excluded."""
    owners = packages_distributions()
    modules = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and not (REPO_ROOT / m).exists()}
    third_party -= {m.removesuffix(".py") for m in APP_SOURCES}
    return {normalized(owners[m][0]) for m in third_party if m in owners}


def sources(names: list[str]) -> list[Path]:
    return [
        path
        for name in names
        for path in ([REPO_ROOT / name] if name.endswith(".py") else (REPO_ROOT / name).rglob("*.py"))
    ]


def test_what_the_server_imports_is_pinned_in_requirements() -> None:
    missing = (imported_distributions(sources(APP_SOURCES + APP_PACKAGES)) | RUNTIME) - pinned(
        REPO_ROOT / "requirements.txt"
    )
    assert missing == set()


@pytest.mark.parametrize("folder", ["tests", "bench"])
def test_what_tests_and_benchmarks_import_is_pinned(folder: str) -> None:
    missing = imported_distributions(sources([folder])) - pinned(REPO_ROOT / "requirements-dev.txt")
    assert missing == set()
