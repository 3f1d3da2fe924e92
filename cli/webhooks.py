"""`flask --app app pix webhooks ...` and `pix worker`: the shop's endpoints, dead letters, and the delivery worker."""

import json
import signal
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import click
from flask import current_app

from cli.group import pix_cli
from db_models import WebhookEndpoint
from db_models.base import now_utc
from jobs.deliveries import run_worker
from log_setup import configure_logging
from payloads import delivery_json
from pix.instants import parse_instant
from repository import deliveries, webhook_endpoints
from routes.converters import RowIdConverter
from routes.endpoint_request import endpoint_fields
from routes.errors import ApiError

ROW_ID = click.IntRange(1, RowIdConverter.MAX)  # what an id column holds


@pix_cli.group("webhooks")
def webhooks_cli() -> None:
    """The shop's webhook endpoints and their dead letters."""


def _checked(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    try:
        return endpoint_fields(body, partial)
    except ApiError as error:
        raise click.BadParameter(error.message, param_hint=error.field) from None


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_endpoints.endpoint_by_id(endpoint_id)
    if endpoint is None:
        raise click.ClickException(f"no webhook endpoint has id {endpoint_id}")
    return endpoint


def _headers(pairs: tuple[str, ...]) -> dict[str, str]:
    if any("=" not in pair for pair in pairs):
        raise click.BadParameter("write each header as Name=value", param_hint="--header")
    return dict(pair.split("=", 1) for pair in pairs)


@webhooks_cli.command("create")
@click.argument("url")
@click.option(
    "--events", default="*", show_default=True, help="Comma-separated event types; * and payment.* match many."
)
@click.option("--header", "headers", multiple=True, help="An extra header, Name=value (repeatable).")
@click.option("--bearer", help="Send Authorization: Bearer <this> to the endpoint.")
@click.option("--retry", help='Comma-separated seconds before each retry ("" for none). Default: about 3 days.')
@click.option("--description")
def create(
    url: str, events: str, headers: tuple[str, ...], bearer: str | None, retry: str | None, description: str | None
) -> None:
    """Send events to URL; prints the endpoint's id and signing secret."""
    body: dict[str, Any] = {
        "url": url,
        "event_types": [name.strip() for name in events.split(",")],
        "headers": _headers(headers),
    }
    if bearer:
        body["auth"] = {"type": "bearer", "token": bearer}
    if retry is not None:  # "" for no retries at all
        try:
            body["retry_schedule"] = [Decimal(wait) for wait in retry.split(",") if wait.strip()]
        except ArithmeticError:
            raise click.BadParameter("list whole seconds, like 5,300,1800", param_hint="--retry") from None
    if description:
        body["description"] = description
    endpoint = webhook_endpoints.create_endpoint(**_checked(body, partial=False))
    click.echo(f"endpoint {endpoint.id}: {endpoint.url} ({', '.join(endpoint.event_types)})")
    click.echo(f"signing secret: {endpoint.secrets[-1]['secret']}")


@webhooks_cli.command("list")
def list_endpoints() -> None:
    """Every endpoint, with its deliveries by status."""
    endpoints = webhook_endpoints.all_endpoints()
    if not endpoints:
        click.echo("No webhook endpoints yet: add one with `pix webhooks create URL`.")
        return
    click.echo(f"{'ID':>4}  {'STATE':<8}  {'PENDING':>7}  {'HELD':>6}  {'DEAD':>6}  {'SUCCESS':>7}  URL / EVENTS")
    for endpoint in endpoints:
        stats = webhook_endpoints.endpoint_stats(endpoint.id)
        counts, rate = stats["deliveries"], stats["success_rate"]
        state = "enabled" if endpoint.enabled else "disabled"
        success = "-" if rate is None else f"{rate:.0%}"
        click.echo(
            f"{endpoint.id:>4}  {state:<8}  {counts['pending']:>7}  {counts['held']:>6}  {counts['dead']:>6}"
            f"  {success:>7}  {endpoint.url} ({', '.join(endpoint.event_types)})"
        )
        if endpoint.disabled_reason and not endpoint.enabled:
            click.echo(f"{'':>4}  {endpoint.disabled_reason}")


@webhooks_cli.command("enable")
@click.argument("endpoint_id", type=ROW_ID)
def enable(endpoint_id: int) -> None:
    """Start sending again: what was held goes first, in order."""
    webhook_endpoints.update_endpoint(_endpoint(endpoint_id), enabled=True)
    click.echo(f"endpoint {endpoint_id} enabled")


@webhooks_cli.command("disable")
@click.argument("endpoint_id", type=ROW_ID)
def disable(endpoint_id: int) -> None:
    """Stop sending; events keep being recorded and are held for when it is enabled."""
    webhook_endpoints.update_endpoint(_endpoint(endpoint_id), enabled=False)
    click.echo(f"endpoint {endpoint_id} disabled: its events are held")


@webhooks_cli.command("delete")
@click.argument("endpoint_id", type=ROW_ID)
@click.confirmation_option(prompt="Delete the endpoint and its delivery log?")
def delete(endpoint_id: int) -> None:
    """Remove an endpoint and its delivery log."""
    webhook_endpoints.delete_endpoint(_endpoint(endpoint_id))
    click.echo(f"endpoint {endpoint_id} deleted")


@webhooks_cli.command("rotate-secret")
@click.argument("endpoint_id", type=ROW_ID)
@click.option("--old-secret-hours", type=click.IntRange(0, 720), help="How long the old secrets keep signing.")
def rotate(endpoint_id: int, old_secret_hours: int | None) -> None:
    """A new signing secret; the old ones sign too until they expire."""
    hours = current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"] if old_secret_hours is None else old_secret_hours
    secret = webhook_endpoints.rotate_secret(_endpoint(endpoint_id), timedelta(hours=hours))
    click.echo(f"new signing secret: {secret}")
    click.echo(f"the old ones keep signing for {hours} h")


@webhooks_cli.command("dead-letters")
@click.option("--endpoint", "endpoint_id", type=ROW_ID, help="Only this endpoint's.")
@click.option("--limit", default=50, show_default=True)
@click.option("--show", "show_id", type=ROW_ID, help="Print one dead letter whole: its event and every attempt.")
def dead_letters(endpoint_id: int | None, limit: int, show_id: int | None) -> None:
    """Deliveries whose retries are spent, newest first."""
    if show_id is not None:
        parts = deliveries.delivery_parts(show_id)
        if parts is None:
            raise click.ClickException(f"no delivery has id {show_id}")
        [(delivery, attempts)] = deliveries.with_attempts([parts[0]])
        click.echo(json.dumps(delivery_json(delivery, parts[1], attempts), indent=2, ensure_ascii=False))
        return
    letters = deliveries.dead_letters(endpoint_id, limit)
    if not letters:
        click.echo("No dead letters: every event was delivered or is still being tried.")
        return
    click.echo(f"{'DELIVERY':>8}  {'ENDPOINT':>8}  {'EVENT (UTC)':<20}  {'TYPE':<17}  {'TRIES':>5}  LAST ERROR")
    for delivery, event in letters:
        click.echo(
            f"{delivery.id:>8}  {delivery.endpoint_id:>8}  {event.created_at:%Y-%m-%d %H:%M:%S}Z  {event.type:<17}"
            f"  {delivery.attempts:>5}  {delivery.last_error or ''}"
        )


@webhooks_cli.command("redeliver")
@click.argument("delivery_id", type=ROW_ID, required=False)
@click.option("--since", help="Every dead letter whose event happened since this ISO time, like 2026-12-01T00:00:00Z.")
@click.option("--endpoint", "endpoint_id", type=ROW_ID, help="With --since: only this endpoint's.")
def redeliver(delivery_id: int | None, since: str | None, endpoint_id: int | None) -> None:
    """Send a dead letter again (by its delivery id), or all of them since a time."""
    if (delivery_id is None) == (since is None):
        raise click.UsageError("give a DELIVERY_ID or --since, not both")
    if delivery_id is not None:
        if not deliveries.redeliver(delivery_id):
            raise click.ClickException(f"delivery {delivery_id} does not exist or is still pending or held")
        click.echo(f"delivery {delivery_id} will be sent again")
        return
    moment = parse_instant(since)
    if moment is None:
        raise click.BadParameter("an ISO 8601 time with its offset, like 2026-12-01T00:00:00Z", param_hint="--since")
    count = deliveries.redeliver_dead_since(moment, endpoint_id)
    click.echo(f"{count} dead letter{'s' if count != 1 else ''} since {moment.isoformat()} will be sent again")


@pix_cli.command("worker")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), help="Deliveries at once. Default: WEBHOOK_WORKER_CONCURRENCY."
)
def worker(concurrency: int | None) -> None:
    """Deliver webhooks (and record expiries) until stopped; run as many as you like, on any machines."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    configure_logging(app.config["LOG_FORMAT"])
    concurrency = concurrency or app.config["WEBHOOK_WORKER_CONCURRENCY"]
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())  # finish the attempts under way, then leave
    click.echo(f"delivering webhooks, {concurrency} at a time, since {now_utc():%H:%M:%S}Z", err=True)
    run_worker(app, time.sleep, concurrency, stopping=stop.is_set)
    click.echo("stopped: every attempt under way was finished", err=True)
