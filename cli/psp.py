"""`flask --app app pix reconcile`, `register-webhook`, `refund` and `refunds`: the shop's side of the API Pix."""

import time
from decimal import Decimal

import click
from flask import current_app

from cli.group import pix_cli
from db_models import db
from jobs.periodic import run_every
from jobs.reconciliation import reconcile
from jobs.refunds import new_refund_id, request_refund
from log_setup import configure_logging
from pix.money import InvalidAmountError, from_cents, parse_amount
from pix.psp_client import ApiPixClient, PspError
from repository.refunds import RefundRefusedError, latest_refunds


def psp_client() -> ApiPixClient:
    """The API Pix client of this checkout's provider, or a clear error when it has none."""
    client = getattr(current_app.extensions["pix_provider"], "client", None)
    if client is None:
        raise click.ClickException("this checkout has no PSP: set PIX_PROVIDER=api-pix and the PIX_PSP_* settings")
    return client


def _run_once() -> None:
    # The servers' live relay tells the pages what this run paid, within a second: it loses nothing a publish
    # from here, which no relay would tell again, could.
    report = reconcile(psp_client(), current_app.config["PIX_CLOCK_TOLERANCE"], tells_pages=False)
    db.session.remove()
    click.echo("another process is reconciling now" if report is None else report.summary())


@pix_cli.command("reconcile")
@click.option("--every", type=float, help="Keep running, every this many seconds (a dedicated process).")
def reconcile_command(every: float | None) -> None:
    """Ask the PSP what it received and apply what its webhooks did not bring."""
    if every is None:
        _run_once()
    else:
        configure_logging(current_app.config["LOG_FORMAT"])
        run_every(every, _run_once, time.sleep)


@pix_cli.command("register-webhook")
@click.argument("url")
def register_webhook(url: str) -> None:
    """Register URL at the PSP as the webhook for this checkout's PIX key (PUT /webhook/{chave})."""
    production = current_app.config["APP_ENV"] == "production"
    if not url.startswith("https://") and (production or not url.startswith("http://")):
        raise click.BadParameter("PSPs call webhooks over https, with mutual TLS", param_hint="URL")
    try:
        psp_client().register_webhook(current_app.config["PIX_MERCHANT"].key, url)
    except PspError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"the PSP will POST received Pix to {url}/pix")


@pix_cli.command("refund")
@click.argument("end_to_end_id")
@click.option("--value", help="Amount in reais. Default: all that is left of the Pix.")
@click.option("--id", "refund_id", help="Our refund id, to repeat a request safely. Default: a new one.")
@click.option("--description", help="A message to the payer (at most 140 characters).")
def refund_command(end_to_end_id: str, value: str | None, refund_id: str | None, description: str | None) -> None:
    """Send (part of) a received Pix back to its payer, through the PSP."""
    amount = parse_amount(value, Decimal("Infinity")) if value else None
    try:
        refund = request_refund(psp_client(), end_to_end_id, amount, description, refund_id or new_refund_id())
    except (RefundRefusedError, InvalidAmountError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"refund {refund.refund_id}: {from_cents(refund.value_cents):.2f} {refund.status}")


@pix_cli.command("refunds")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def refunds_command(limit: int) -> None:
    """List the latest refunds and where each stands."""
    refunds = latest_refunds(limit)
    if not refunds:
        click.echo("No refunds yet: send one with `pix refund END_TO_END_ID`.")
        return
    click.echo(f"{'CREATED (UTC)':<20}  {'STATUS':<16}  {'VALUE (R$)':>12}  {'REFUND ID':<32}  END-TO-END ID")
    for refund in refunds:
        click.echo(
            f"{refund.created_at:%Y-%m-%d %H:%M:%S}Z  {refund.status:<16}  {from_cents(refund.value_cents):>12.2f}"
            f"  {refund.refund_id:<32}  {refund.end_to_end_id}"
        )
