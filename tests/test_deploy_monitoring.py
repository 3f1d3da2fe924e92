"""deploy/prometheus and deploy/grafana: the rules load and fire as their tests say, and every query names a
metric the checkout really exports."""

import json
import re
import subprocess

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

import metrics
from tests.external_tools import require_executable
from tests.live_server import REPO_ROOT

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "pix-checkout.json"
METRIC_NAME = re.compile(r"\bpix_[a-z_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_executable("promtool", "check the alert rules (Debian package prometheus)")
    return subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)


def test_the_rules_load_and_their_unit_tests_pass() -> None:
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    config = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def exported(client: FlaskClient) -> set[str]:
    """The metric families /metrics has, by their base names."""
    text = client.get("/metrics").get_data(as_text=True)
    return {family.name for family in text_string_to_metric_families(text)}


def base_name(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def test_every_query_of_the_dashboard_and_the_alerts_names_an_exported_metric(client: FlaskClient) -> None:
    names = exported(client)
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    queries += re.findall(r"expr: \|?\s*\n?\s*(.+)", (PROMETHEUS / "alerts.yml").read_text())
    used = {base_name(name) for query in queries for name in METRIC_NAME.findall(query)}
    assert used, "no query names a pix_ metric"
    assert used <= names, f"not exported: {sorted(used - names)}"
    assert len(dashboard["panels"]) >= 12


def test_a_scrape_still_answers_and_says_so_when_the_database_is_down() -> None:
    def broken() -> tuple:
        raise OSError("connection refused")

    text = metrics.render(metrics.WebhookQueue(broken)).decode()
    assert "pix_database_up 0.0" in text and "pix_webhook_queue_depth" not in text
