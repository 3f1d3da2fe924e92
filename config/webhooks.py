"""Settings of the outbound webhooks: which addresses endpoints may resolve to, and where the worker runs."""

from datetime import timedelta
from typing import Any

from config.values import boolean, networks, whole_number


def webhook_settings(settings: dict[str, Any]) -> None:
    """Check WEBHOOK_ALLOW_PRIVATE, WEBHOOK_ALLOWED_NETWORKS, the sample shop and the worker."""
    development = settings["APP_ENV"] == "development"
    # The SSRF guard is on in production; development calls the demo shop on localhost.
    allow = settings["WEBHOOK_ALLOW_PRIVATE"]
    settings["WEBHOOK_ALLOW_PRIVATE"] = development if allow is None else boolean(allow, "WEBHOOK_ALLOW_PRIVATE")
    settings["WEBHOOK_ALLOWED_NETWORKS"] = networks(settings["WEBHOOK_ALLOWED_NETWORKS"], "WEBHOOK_ALLOWED_NETWORKS")
    sample = settings["SAMPLE_SHOP_ENABLED"]
    settings["SAMPLE_SHOP_ENABLED"] = development if sample is None else boolean(sample, "SAMPLE_SHOP_ENABLED")
    settings["PIX_WORKER_IN_SERVER"] = boolean(settings["PIX_WORKER_IN_SERVER"], "PIX_WORKER_IN_SERVER")
    for name, low, high in (
        ("WEBHOOK_WORKER_CONCURRENCY", 1, 256),
        ("WEBHOOK_TIMEOUT_SECONDS", 1, 30),
        ("WEBHOOK_SECRET_OVERLAP_HOURS", 0, 720),
    ):
        settings[name] = whole_number(settings[name], name, low, high)
    # A worker's claim on a delivery outlasts the attempt queued ahead of it and its own (with their DNS
    # lookups); a killed worker's claims are taken over when they run out.
    settings["WEBHOOK_LEASE"] = timedelta(seconds=3 * settings["WEBHOOK_TIMEOUT_SECONDS"] + 10)
