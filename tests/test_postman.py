"""The Postman collection, run by newman against the real server, proves the API from the outside."""

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from config.api_pix import DEVELOPMENT_PSP_TOKEN
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET
from tests.external_tools import require_executable
from tests.live_server import REPO_ROOT, LiveServer

COLLECTION = REPO_ROOT / "postman" / "pix-checkout.postman_collection.json"
ENVIRONMENT = REPO_ROOT / "postman" / "local.postman_environment.json"
LOCAL_NEWMAN = REPO_ROOT / "node_modules" / ".bin" / "newman"
MIN_REQUESTS = 11
NEWMAN_TIMEOUT_SECONDS = 45


def newman_executable() -> str:
    """newman from `npm ci` in this repository, else one on PATH; skip (fail in CI) without either."""
    if LOCAL_NEWMAN.is_file() and os.access(LOCAL_NEWMAN, os.X_OK):
        require_executable("node", "run newman from node_modules")
        return str(LOCAL_NEWMAN)
    return require_executable("newman", "run the Postman collection")


def run_newman(base_url: str, report: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the collection against base_url, writing newman's JSON report to report (never into the repository)."""
    command = [
        newman_executable(),
        "run",
        str(COLLECTION),
        "--environment",
        str(ENVIRONMENT),
        "--env-var",
        f"base_url={base_url}",
        "--reporters",
        "cli,json",
        "--reporter-json-export",
        str(report),
        "--bail",
        "--color",
        "off",
        "--timeout-request",
        "10000",
        *extra,
    ]
    return subprocess.run(
        command,
        cwd=report.parent,
        env=os.environ | {"FORCE_COLOR": "0"},  # plain text in pytest's failure output
        capture_output=True,
        text=True,
        timeout=NEWMAN_TIMEOUT_SECONDS,
        check=False,
    )


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_environment_holds_the_documented_local_defaults() -> None:
    values = {entry["key"]: entry["value"] for entry in load_json(ENVIRONMENT)["values"] if entry.get("enabled", True)}
    assert values == {
        "base_url": "http://127.0.0.1:5000",
        "webhook_secret": DEVELOPMENT_WEBHOOK_SECRET,
        "psp_webhook_token": DEVELOPMENT_PSP_TOKEN,
    }


def test_postman_collection_passes_against_the_live_server(live_server: LiveServer, tmp_path: Path) -> None:
    report = tmp_path / "newman-report.json"
    result = run_newman(live_server.url, report)
    output = f"newman exited {result.returncode}\n--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    assert result.returncode == 0, output

    run = load_json(report)["run"]
    expected = [item["name"] for item in load_json(COLLECTION)["item"]]
    executed = [execution["item"]["name"] for execution in run["executions"]]
    assert len(expected) >= MIN_REQUESTS
    assert executed == expected, output
    assert run["failures"] == [], output
    assert run["stats"]["requests"] == {"total": len(expected), "pending": 0, "failed": 0}, output
    assert run["stats"]["assertions"]["failed"] == 0, output
    unasserted = [execution["item"]["name"] for execution in run["executions"] if not execution.get("assertions")]
    assert unasserted == [], f"requests without pm.test assertions: {unasserted}"


def test_newman_fails_when_the_webhook_is_signed_with_another_secret(live_server: LiveServer, tmp_path: Path) -> None:
    """The negative control: a failing pm.test makes newman exit non-zero, so the test above can fail."""
    report = tmp_path / "newman-report.json"
    other_secret = "whsec_" + base64.b64encode(b"not-the-server-secret-32-bytes!!").decode()
    result = run_newman(live_server.url, report, "--env-var", f"webhook_secret={other_secret}")
    assert result.returncode != 0, result.stdout

    run = load_json(report)["run"]
    failed = {failure["source"]["name"] for failure in run["failures"]}
    assert failed == {"Confirm it"}, result.stdout
    assert run["executions"][-1]["response"]["code"] == 401, result.stdout
