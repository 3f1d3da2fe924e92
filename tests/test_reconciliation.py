"""Reconciliation: what the PSP received but whose webhook never came is applied on the next run, once."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask_socketio import SocketIOTestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from db_models import BankNotification, OutboxEvent, Payment, db
from jobs.deliveries import sweep
from jobs.live_relay import publish_new_events
from jobs.reconciliation import MAX_CHARGES_PER_RUN, RECENTLY_EXPIRED, reconcile
from repository.leases import last_success, take_lease
from tests.fake_psp import FakePsp, with_fake_psp
from tests.test_api_pix_provider import PSP
from tests.test_psp_client import PIX, api_pix_like, json_answers


@pytest.fixture
def app(app_config: dict[str, Any], psp: FakePsp) -> Iterator[Flask]:
    app = create_app(app_config | PSP)
    yield with_fake_psp(app, psp)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run(app: Flask) -> Any:
    with app.app_context():
        return reconcile(app.extensions["pix_provider"].client, app.config["PIX_CLOCK_TOLERANCE"])


def stored(app: Flask, payment: dict) -> Payment:
    with app.app_context():
        return db.session.get(Payment, payment["id"])


def test_a_paid_charge_whose_webhook_was_lost_is_found_and_its_page_told(
    app: Flask, psp: FakePsp, make_payment: Any, socket_client: SocketIOTestClient, token_of: Any
) -> None:
    payment = make_payment("33.00")
    socket_client.emit("subscribe", {"token": token_of(payment)})
    psp.pay(payment["txid"], "33.00")
    report = run(app)
    assert (report.pix_seen, dict(report.outcomes), report.errors) == (1, {"applied": 1}, [])
    assert stored(app, payment).paid
    statuses = [e["args"][0]["status"] for e in socket_client.get_received() if e["name"] == "payment_status"]
    assert statuses == ["pending", "paid"]
    again = run(app)
    assert (again.pix_seen, dict(again.outcomes)) == (1, {})  # seen again, changed nothing
    assert "nothing new" in again.summary()


def test_money_that_matches_no_charge_is_kept_for_the_shop(app: Flask, psp: FakePsp) -> None:
    psp.pay(None, "12.00")
    psp.pay("NoSuchTxidAnywhere000000000000", "5.00")
    assert dict(run(app).outcomes) == {"payment_not_found": 2}


def test_a_charge_just_past_its_deadline_is_asked_about(app: Flask, psp: FakePsp, make_payment: Any) -> None:
    payment = make_payment("8.00")
    with app.app_context():
        db.session.execute(db.update(Payment).values(expiration_date=datetime.now(UTC) - timedelta(minutes=5)))
        db.session.commit()
    psp.pay(payment["txid"], "8.00", at=datetime.now(UTC) - timedelta(minutes=10))
    psp.listing_lags = True
    report = run(app)
    assert (report.pix_seen, report.charges_checked, dict(report.outcomes)) == (0, 1, {"applied": 1})
    assert stored(app, payment).paid  # paid before its deadline, found after it


def test_charges_abandoned_earlier_take_no_place_from_one_that_just_expired(
    app: Flask, psp: FakePsp, make_payment: Any
) -> None:
    abandoned = [make_payment("5.00")["id"] for _ in range(MAX_CHARGES_PER_RUN)]
    paid = make_payment("7.00")
    with app.app_context():
        now = datetime.now(UTC)
        db.session.execute(
            db.update(Payment).where(Payment.id.in_(abandoned)).values(expiration_date=now - timedelta(minutes=30))
        )
        db.session.execute(
            db.update(Payment).where(Payment.id == paid["id"]).values(expiration_date=now - timedelta(minutes=1))
        )
        db.session.commit()
    psp.pay(paid["txid"], "7.00", at=datetime.now(UTC) - timedelta(minutes=2))  # before its deadline
    psp.listing_lags = True
    run(app)
    assert stored(app, paid).paid  # before, the 50 abandoned ones were asked about, run after run, and not this one


def test_only_one_process_reconciles_at_a_time(app: Flask, psp: FakePsp) -> None:
    with app.app_context():
        assert take_lease("reconciliation", "another-host:1", timedelta(minutes=5))
    assert run(app) is None


def test_a_psp_outage_is_reported_and_the_next_run_looks_back_as_far(
    app: Flask, psp: FakePsp, make_payment: Any
) -> None:
    psp.down = True
    report = run(app)
    assert report.errors and "503" in report.errors[0]
    psp.down = False
    payment = make_payment("4.00")
    psp.pay(payment["txid"], "4.00", at=datetime.now(UTC) - timedelta(hours=2))
    assert dict(run(app).outcomes) == {"applied": 1}


def test_a_psp_answer_that_cannot_be_read_fails_the_run_and_the_next_looks_back_as_far(
    app: Flask, psp: FakePsp, make_payment: Any
) -> None:
    psp.garbled = True
    report = run(app)  # before, the decoding error escaped the run, and the run counted as a success
    assert report.errors and "DecodingError" in report.errors[0]
    with app.app_context():
        assert last_success("reconciliation") is None
    psp.garbled = False
    payment = make_payment("4.00")
    psp.pay(payment["txid"], "4.00", at=datetime.now(UTC) - timedelta(hours=2))
    assert dict(run(app).outcomes) == {"applied": 1}


def test_a_run_that_breaks_halfway_moves_the_window_on_no_further(
    app: Flask, psp: FakePsp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(app).errors == []
    with app.app_context():
        first = last_success("reconciliation")

    def broken(_client: Any) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr("jobs.reconciliation.settle_refunds", broken)
    with pytest.raises(RuntimeError):
        run(app)
    with app.app_context():
        assert last_success("reconciliation") == first  # the next run looks at that stretch again


def test_two_different_unreadable_pix_are_two_notices_each_kept_as_it_came(app: Flask, psp: FakePsp) -> None:
    for value in ("12.5", "99.5"):  # unreadable for the same reason: valor needs two decimals
        psp.received.append({"endToEndId": "E1234567820261201" + value[:2] * 7 + "a", "valor": value})
    assert dict(run(app).outcomes) == {"invalid": 2}
    assert dict(run(app).outcomes) == {}  # listed again: the same two, nothing new
    with app.app_context():
        kept = db.session.execute(db.select(BankNotification.raw).order_by(BankNotification.id)).scalars().all()
    assert [json.loads(raw)["valor"] for raw in kept] == ["12.5", "99.5"]


def test_the_command_prints_what_it_did(app: Flask, psp: FakePsp, make_payment: Any) -> None:
    payment = make_payment("2.00")
    psp.pay(payment["txid"], "2.00")
    output = app.test_cli_runner().invoke(args=["pix", "reconcile"]).output
    assert output.strip() == "1 Pix listed, 0 charges checked: 1 applied"
    with app.app_context():
        assert db.session.execute(db.select(BankNotification.source)).scalars().all() == ["reconciliation"]


def test_more_deadlines_than_a_run_asks_about_are_each_asked_about_in_turn(
    app: Flask, psp: FakePsp, make_payment: Any
) -> None:
    # A busy hour: twice as many charges ran out unpaid as one run checks, and the earliest of them was paid.
    payments = [make_payment("5.00") for _ in range(2 * MAX_CHARGES_PER_RUN)]
    with app.app_context():
        now = datetime.now(UTC)
        for minutes, payment in enumerate(payments, start=1):
            deadline = now - timedelta(minutes=1 + minutes / 10)  # the first the latest, the last 11 minutes ago
            db.session.execute(db.update(Payment).where(Payment.id == payment["id"]).values(expiration_date=deadline))
        db.session.commit()
    earliest = payments[-1]
    psp.pay(earliest["txid"], "5.00", at=datetime.now(UTC) - timedelta(minutes=12))  # before its deadline
    psp.listing_lags = True
    assert run(app).charges_checked == MAX_CHARGES_PER_RUN
    assert not stored(app, earliest).paid  # the latest deadlines went first
    assert run(app).charges_checked == MAX_CHARGES_PER_RUN
    assert stored(app, earliest).paid  # before, the same 50 were asked about again, and this one never


def events_of(app: Flask, payment: dict) -> list[str]:
    with app.app_context():
        query = db.select(OutboxEvent.type).where(OutboxEvent.payment_id == payment["id"])
        return list(db.session.execute(query.order_by(OutboxEvent.sequence)).scalars())


def test_a_charge_paid_in_time_whose_webhook_is_late_is_never_announced_expired(
    app: Flask, psp: FakePsp, make_payment: Any, deadline_passed: Any
) -> None:
    payment = make_payment("9.00")
    deadline_passed(payment, timedelta(minutes=2))
    psp.pay(payment["txid"], "9.00", at=datetime.now(UTC) - timedelta(minutes=3))  # in time; its webhook is late
    psp.listing_lags = True
    assert sweep(app) == 0  # before, the shop was told payment.expired here, and payment.paid a minute later
    run(app)
    assert sweep(app) == 0
    assert events_of(app, payment) == ["payment.created", "payment.paid"]


def test_an_unpaid_charge_is_announced_expired_once_the_psp_said_so_after_its_deadline(
    app: Flask, psp: FakePsp, make_payment: Any, deadline_passed: Any
) -> None:
    just_now, a_while_ago = make_payment("4.00"), make_payment("5.00")
    deadline_passed(just_now, timedelta(seconds=5))  # within the clock tolerance: the PSP may still take it
    deadline_passed(a_while_ago, timedelta(minutes=2))
    assert sweep(app) == 0
    assert run(app).charges_checked == 1
    assert sweep(app) == 1
    assert events_of(app, a_while_ago) == ["payment.created", "payment.expired"]
    assert events_of(app, just_now) == ["payment.created"]


def test_a_charge_nobody_asked_the_psp_about_is_announced_expired_an_hour_after_its_deadline(
    app: Flask, make_payment: Any, deadline_passed: Any
) -> None:
    payment = make_payment("6.00")
    deadline_passed(payment, RECENTLY_EXPIRED - timedelta(minutes=1))
    assert sweep(app) == 0
    deadline_passed(payment, RECENTLY_EXPIRED + timedelta(minutes=1))  # reconciliation asks no more
    assert sweep(app) == 1
    assert events_of(app, payment) == ["payment.created", "payment.expired"]


def test_a_charge_the_psp_cannot_find_keeps_no_other_from_being_asked_about(
    app: Flask, psp: FakePsp, make_payment: Any, deadline_passed: Any
) -> None:
    lost, unpaid, paid = make_payment("3.00"), make_payment("4.00"), make_payment("5.00")
    deadline_passed(lost, timedelta(minutes=1))  # the latest deadline: asked about first
    deadline_passed(unpaid, timedelta(minutes=2))
    deadline_passed(paid, timedelta(minutes=3))
    psp.scripted[lost["txid"]] = (404, {"title": "Cobrança não encontrada"})  # a charge the PSP lost or purged
    psp.pay(paid["txid"], "5.00", at=datetime.now(UTC) - timedelta(minutes=4))
    psp.listing_lags = True
    report = run(app)
    assert report.charges_checked == 2 and "404" in report.errors[0]  # before, the run stopped at the first
    assert stored(app, paid).paid
    assert sweep(app) == 1  # the unpaid one; the one the PSP could not find waits for its answer, or the hour
    assert events_of(app, unpaid)[-1] == "payment.expired"
    assert events_of(app, lost) == ["payment.created"]


def test_a_charge_the_psp_calls_paid_without_its_pix_is_not_announced_expired(
    app: Flask, psp: FakePsp, make_payment: Any, deadline_passed: Any
) -> None:
    payment = make_payment("7.00")
    deadline_passed(payment, timedelta(minutes=2))
    psp.charges[payment["txid"]]["status"] = "CONCLUIDA"  # its Pix not listed with it yet
    run(app)
    assert sweep(app) == 0  # before, an answer without a Pix was taken for "unpaid", whatever its status said


def test_a_charge_whose_deadline_at_the_psp_is_later_than_ours_is_announced_expired_after_the_psps(
    app: Flask, psp: FakePsp, make_payment: Any, deadline_passed: Any
) -> None:
    # The PSP took the PUT /cob late (retries, a slow answer): its deadline runs out two minutes after ours.
    payment = make_payment("8.00")
    deadline_passed(payment, timedelta(minutes=2))
    created = datetime.now(UTC) - timedelta(minutes=1)
    psp.charges[payment["txid"]]["calendario"] = {"criacao": created.isoformat(), "expiracao": 120}
    run(app)
    assert sweep(app) == 0  # the buyer may still pay it at the PSP
    psp.charges[payment["txid"]]["calendario"] = {
        "criacao": (created - timedelta(minutes=2)).isoformat(),
        "expiracao": 60,
    }
    run(app)
    assert sweep(app) == 1


def test_a_run_as_a_command_leaves_the_page_to_the_servers_relay(
    app: Flask, psp: FakePsp, make_payment: Any, socket_client: SocketIOTestClient, token_of: Any
) -> None:
    payment = make_payment("2.50")
    socket_client.emit("subscribe", {"token": token_of(payment)})
    socket_client.get_received()
    psp.pay(payment["txid"], "2.50")
    app.test_cli_runner().invoke(args=["pix", "reconcile"])  # as `flask pix reconcile --every` would
    socket_client.get_received()  # what a process of its own would have emitted reaches no page
    with app.app_context():
        # Before, the event was marked told by the command's publish into its own empty process, and never again.
        assert publish_new_events() == 1
    statuses = [e["args"][0]["status"] for e in socket_client.get_received() if e["name"] == "payment_status"]
    assert statuses == ["paid"]


# Whatever a PSP (or something pretending to be one) answers about a charge whose deadline passed.
cob_answers = json_answers | st.fixed_dictionaries(
    {"status": st.sampled_from(["ATIVA", "CONCLUIDA", "REMOVIDA_PELO_PSP"]) | json_answers},
    optional={
        "txid": json_answers,
        "pixCopiaECola": json_answers | st.just("000201"),
        "calendario": api_pix_like.map(lambda answer: answer.get("calendario")),
        "pix": json_answers | st.lists(json_answers | st.just(PIX), max_size=2),
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.just(200) | st.sampled_from([404, 500]), answer=cob_answers)
def test_whatever_the_psp_says_of_a_charge_a_run_ends_and_expiry_waits_for_a_readable_unpaid(
    app: Flask, psp: FakePsp, make_payment: Any, deadline_passed: Any, status: int, answer: object
) -> None:
    payment = make_payment("10.50")
    deadline_passed(payment, timedelta(minutes=2))
    if isinstance(answer, dict):
        answer = answer | {"txid": payment["txid"]}
        if isinstance(answer.get("pix"), list):  # the sample Pix, made in time, for this very charge
            ours = PIX | {"txid": payment["txid"], "endToEndId": "E" + uuid.uuid4().hex[:31]}
            answer["pix"] = [ours if item == PIX else item for item in answer["pix"]]
    psp.scripted[payment["txid"]] = (status, answer)
    assert run(app) is not None  # a report, whatever came: nothing escapes the run
    sweep(app)
    said = answer if isinstance(answer, dict) else {}
    if "payment.expired" in events_of(app, payment):
        # Told to the shop only on a readable answer that the charge is not paid (or an hour on, untold).
        assert status == 200 and isinstance(said.get("status"), str) and said["status"] != "CONCLUIDA"
    assert not {"payment.expired", "payment.paid"} <= set(events_of(app, payment))
    assert app.test_client().get("/health").status_code == 200
