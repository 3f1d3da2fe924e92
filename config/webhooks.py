"""Settings of the outbound webhooks: which addresses endpoints may resolve to, and where the worker runs."""

from typing import Any

from config.values import boolean, networks, whole_number


def webhook_settings(settings: dict[str, Any]) -> None:
    """Check WEBHOOK_ALLOW_PRIVATE, WEBHOOK_ALLOWED_NETWORKS, the sample shop and the worker."""
    allow = settings["WEBHOOK_ALLOW_PRIVATE"]
    # The SSRF guard is on in production unless the operator turns it off; development calls localhost's demo shop.
    development = settings["APP_ENV"] == "development"
    settings["WEBHOOK_ALLOW_PRIVATE"] = development if allow is None else boolean(allow, "WEBHOOK_ALLOW_PRIVATE")
    settings["WEBHOOK_ALLOWED_NETWORKS"] = networks(settings["WEBHOOK_ALLOWED_NETWORKS"], "WEBHOOK_ALLOWED_NETWORKS")
    sample = settings["SAMPLE_SHOP_ENABLED"]
    settings["SAMPLE_SHOP_ENABLED"] = development if sample is None else boolean(sample, "SAMPLE_SHOP_ENABLED")
    settings["PIX_WORKER_IN_SERVER"] = boolean(settings["PIX_WORKER_IN_SERVER"], "PIX_WORKER_IN_SERVER")
    settings["WEBHOOK_WORKER_CONCURRENCY"] = whole_number(
        settings["WEBHOOK_WORKER_CONCURRENCY"], "WEBHOOK_WORKER_CONCURRENCY", 1, 256
    )
    settings["WEBHOOK_SECRET_OVERLAP_HOURS"] = whole_number(
        settings["WEBHOOK_SECRET_OVERLAP_HOURS"], "WEBHOOK_SECRET_OVERLAP_HOURS", 0, 720
    )
