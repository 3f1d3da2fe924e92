"""The checkout in api-pix mode against the PSP simulator, both real processes: charges, payments, lost
webhooks, late, double and wrong money, refunds and a PSP outage, end to end."""

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from config.api_pix import DEVELOPMENT_PSP_TOKEN
from config.production import DEVELOPMENT_PIX_KEY
from tests.cluster import wait_for, watch
from tests.live_server import REPO_ROOT, LiveServer
from tests.simulator import CLIENT_ID, CLIENT_SECRET, SimulatorProcess


class Pair:
    """A checkout and the simulated PSP it creates its charges at and hears from."""

    def __init__(self, workdir: Path) -> None:
        self.checkout = LiveServer(
            workdir,
            PIX_PROVIDER="api-pix",
            PIX_PSP_CLIENT_ID=CLIENT_ID,
            PIX_PSP_CLIENT_SECRET=CLIENT_SECRET,
            PIX_RECONCILE_SECONDS="1",
        )
        self.webhook_url = f"{self.checkout.url}/webhooks/api-pix?hmac={DEVELOPMENT_PSP_TOKEN}&ignorar="
        self.psp = SimulatorProcess(workdir, SIM_REFUND_SECONDS="0.2")
        self.checkout.env["PIX_PSP_API_URL"] = self.psp.url
        self.control = httpx.Client(base_url=self.psp.url, timeout=10)

    def pay(self, txid: str, **order: object) -> list[dict]:
        answer = self.control.post(f"/sim/cob/{txid}/pay", json=order)
        assert answer.status_code == 201, answer.text
        return answer.json()["pix"]

    def notices(self) -> list[tuple[str, str, str]]:
        with sqlite3.connect(self.checkout.database) as connection:
            rows = connection.execute("SELECT source, payment_key, outcome FROM bank_notifications ORDER BY id")
            return list(rows)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = self.checkout.env | {"PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-m", "flask", "--app", "app", "pix", *args]
        return subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    pair = Pair(tmp_path_factory.mktemp("api-pix"))
    pair.psp.start()
    pair.checkout.start()
    try:
        registered = pair.cli("register-webhook", pair.webhook_url)
        assert registered.returncode == 0, registered.stderr
        yield pair
    finally:
        pair.checkout.stop()
        pair.psp.stop()
        pair.control.close()


def test_a_payment_is_a_charge_at_the_psp_and_its_pix_pays_the_page(pair: Pair) -> None:
    payment = pair.checkout.create_payment("42.00")
    charge = pair.control.get("/sim/state").json()
    [cob] = [c for c in charge["charges"] if c["txid"] == payment["txid"]]
    assert cob["pixCopiaECola"] == payment["pix_copy_paste"]
    page, statuses = watch(pair.checkout.url, payment)
    try:
        pair.pay(payment["txid"])
        wait_for(lambda: "paid" in statuses)
        assert statuses == ["pending", "paid"]
    finally:
        page.disconnect()


def test_a_dropped_webhook_is_made_good_by_reconciliation(pair: Pair) -> None:
    payment = pair.checkout.create_payment("13.00")
    page, statuses = watch(pair.checkout.url, payment)
    try:
        pair.pay(payment["txid"], deliver=False)
        wait_for(lambda: "paid" in statuses, timeout=8)  # one reconciliation interval, a second here
        assert statuses == ["pending", "paid"]
        assert ("reconciliation", payment["txid"], "applied") in pair.notices()
    finally:
        page.disconnect()


def test_double_and_wrong_money_and_unknown_txids_are_kept(pair: Pair) -> None:
    twice, wrong = pair.checkout.create_payment("10.00"), pair.checkout.create_payment("20.00")
    pair.pay(twice["txid"], times=2)
    pair.pay(wrong["txid"], valor="19.00")
    unknown = {"valor": "7.00", "chave": DEVELOPMENT_PIX_KEY, "txid": "NoSuchChargeHere0000000000000"}
    assert pair.control.post("/sim/pix", json=unknown).status_code == 201
    expected = {
        (twice["txid"], "applied"),
        (twice["txid"], "already_paid"),
        (wrong["txid"], "value_mismatch"),
        ("NoSuchChargeHere0000000000000", "payment_not_found"),
    }
    wait_for(lambda: expected <= {(key, outcome) for _, key, outcome in pair.notices()}, timeout=8)
    assert (
        pair.checkout.request("GET", wrong["status_url"].removeprefix(pair.checkout.url))[1]["payment"]["paid"] is False
    )


def test_a_late_payment_is_kept_and_refunded_through_the_psp(pair: Pair) -> None:
    payment = pair.checkout.create_payment("30.00")
    past = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None)
    with sqlite3.connect(pair.checkout.database) as connection:  # the buyer took too long
        connection.execute("UPDATE payments SET expiration_date = ? WHERE id = ?", (past, payment["id"]))
    [pix] = pair.pay(payment["txid"])
    wait_for(lambda: (payment["txid"], "payment_expired") in {(k, o) for _, k, o in pair.notices()}, timeout=8)
    body = json.dumps({"end_to_end_id": pix["endToEndId"]}).encode()
    status, answer = pair.checkout.request("POST", "/payments/pix/refunds", body, {"Content-Type": "application/json"})
    assert (status, answer["refund"]["value"]) == (201, 30)
    refund_url = f"/payments/pix/refunds/{answer['refund']['refund_id']}"
    wait_for(lambda: pair.checkout.request("GET", refund_url)[1]["refund"]["status"] == "DEVOLVIDO", timeout=8)


def test_a_psp_outage_is_a_clear_503_and_the_next_try_works(pair: Pair) -> None:
    pair.control.post("/sim/outage", json={"on": True})
    try:
        body = json.dumps({"value": 5}).encode()
        status, answer = pair.checkout.request("POST", "/payments/pix", body, {"Content-Type": "application/json"})
        assert (status, answer["error"]["code"]) == (503, "psp_unavailable")
    finally:
        pair.control.post("/sim/outage", json={"on": False})
    time.sleep(0.1)
    assert pair.checkout.create_payment(5)["txid"]
