"""`flask --app app pix reconcile` and `pix register-webhook`: talk to the PSP's API Pix."""

import time

import click
from flask import current_app

from cli.group import pix_cli
from db_models import db
from jobs.reconciliation import reconcile, run_every
from pix.psp_client import ApiPixClient, PspError


def psp_client() -> ApiPixClient:
    """The API Pix client of this checkout's provider, or a clear error when it has none."""
    client = getattr(current_app.extensions["pix_provider"], "client", None)
    if client is None:
        raise click.ClickException("this checkout has no PSP: set PIX_PROVIDER=api-pix and the PIX_PSP_* settings")
    return client


def _run_once() -> None:
    report = reconcile(psp_client(), current_app.config["PIX_CLOCK_TOLERANCE"])
    db.session.remove()
    click.echo("another process is reconciling now" if report is None else report.summary())


@pix_cli.command("reconcile")
@click.option("--every", type=float, help="Keep running, every this many seconds (a dedicated process).")
def reconcile_command(every: float | None) -> None:
    """Ask the PSP what it received and apply what its webhooks did not bring."""
    if every is None:
        _run_once()
    else:
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
