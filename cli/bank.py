"""`flask --app app pix confirm` and `pix refused`: act as the bank, and see the money that needs action."""

import json
import sys
import urllib.error
import urllib.request
from decimal import Decimal

import click
from flask import current_app

from cli.group import pix_cli
from pix.money import InvalidAmountError, from_cents, json_number, parse_amount
from pix.signatures import sign_webhook
from repository.bank_notices import notices_needing_action
from repository.payments import get_payment_by_bank_id


@pix_cli.command("confirm")
@click.argument("bank_payment_id")
@click.option("--value", help="Amount in reais, e.g. 1500.00. Default: the payment's value in the database.")
@click.option(
    "--url",
    envvar="PIX_CHECKOUT_URL",
    help="Base URL of the running checkout. Default: http://HOST:PORT, where the server with these settings listens.",
)
def confirm(bank_payment_id: str, value: str | None, url: str | None) -> None:
    """Send a confirmation signed with PIX_WEBHOOK_SECRET, as the bank's webhook would."""
    url = url or current_app.config["LISTEN_URL"]
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="--url")
    amount = _amount(bank_payment_id, value)
    body = json.dumps({"bank_payment_id": bank_payment_id, "value": json_number(amount)}).encode()
    headers = sign_webhook(current_app.config["PIX_WEBHOOK_SECRET"], body) | {"Content-Type": "application/json"}
    endpoint = f"{url.rstrip('/')}/payments/pix/confirmation"
    request = urllib.request.Request(endpoint, body, headers, method="POST")  # noqa: S310 (scheme checked above)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            click.echo(f"{response.status} {response.read().decode()}")
    except urllib.error.HTTPError as error:
        click.echo(f"{error.code} {error.read().decode()}", err=True)
        sys.exit(1)
    except urllib.error.URLError as error:
        raise click.ClickException(f"cannot reach {url}: {error.reason}") from None


@pix_cli.command("refused")
@click.option("--limit", default=50, show_default=True, help="How many, newest first.")
def refused(limit: int) -> None:
    """List verified bank notices that were not applied: money to refund or reconcile."""
    notices = notices_needing_action(limit)
    if not notices:
        click.echo("No bank notices need action: every verified confirmation was applied.")
        return
    click.echo(f"{'RECEIVED (UTC)':<20}  {'OUTCOME':<17}  {'VALUE (R$)':>14}  {'PAYMENT':>7}  BANK PAYMENT ID / DETAIL")
    for notice in notices:
        value = "" if notice.value_cents is None else f"{from_cents(notice.value_cents):.2f}"
        click.echo(
            f"{notice.received_at:%Y-%m-%d %H:%M:%S}Z  {notice.outcome:<17}  {value:>14}"
            f"  {notice.payment_id or '-':>7}  {notice.payment_key or notice.detail or ''}"
        )


def _amount(bank_payment_id: str, value: str | None) -> Decimal:
    if value is None:
        payment = get_payment_by_bank_id(bank_payment_id)
        if payment is None:
            raise click.ClickException("no such payment in this database; pass --value")
        return payment.value
    try:
        return parse_amount(value, Decimal("Infinity"))
    except InvalidAmountError as error:
        raise click.BadParameter(str(error), param_hint="--value") from None
