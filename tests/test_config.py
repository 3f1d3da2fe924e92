"""Settings come from defaults, then the environment, then create_app's mapping; unsafe ones stop startup."""

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from app import create_app
from config import DEVELOPMENT_PIX_KEY, ConfigError
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, webhook_key

PRODUCTION_SECRET = "whsec_cHJvZHVjdGlvbi1zZWNyZXQtZm9yLXRlc3RzLW9ubHk="
PRODUCTION = {
    "APP_ENV": "production",
    "PIX_WEBHOOK_SECRET": PRODUCTION_SECRET,
    "PIX_KEY": "52998224725",
    "SHOP_API_KEY": "Yq3vN8kR2mT7wX1pL5sD9fG4hJ6",
    "TRUSTED_HOSTS": "localhost",
}


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, app_config: dict[str, Any]) -> None:
    monkeypatch.setenv("PIX_MERCHANT_NAME", "Padaria São João")
    monkeypatch.setenv("PIX_MAX_VALUE", "50.00")
    app = create_app(app_config)
    assert app.config["PIX_MERCHANT"].name == "Padaria Sao Joao"
    response = app.test_client().post("/payments/pix", json={"value": 51})
    assert response.status_code == 400


def test_mapping_overrides_environment(monkeypatch: pytest.MonkeyPatch, app_config: dict[str, Any]) -> None:
    monkeypatch.setenv("PIX_MERCHANT_CITY", "RECIFE")
    app = create_app(app_config | {"PIX_MERCHANT_CITY": "NATAL"})
    assert app.config["PIX_MERCHANT"].city == "NATAL"


def test_development_ships_a_working_secret(app_config: dict[str, Any]) -> None:
    assert create_app(app_config).config["PIX_WEBHOOK_SECRET"] == DEVELOPMENT_WEBHOOK_SECRET


def test_production_refuses_the_development_secret(app_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="PIX_WEBHOOK_SECRET"):
        create_app(app_config | {"APP_ENV": "production", "PIX_KEY": "fulano@example.com"})


def test_production_refuses_the_example_pix_key(app_config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="PIX_KEY"):
        create_app(app_config | {"APP_ENV": "production", "PIX_WEBHOOK_SECRET": PRODUCTION_SECRET})


def test_production_starts_with_its_own_secret_and_key(monkeypatch: pytest.MonkeyPatch, app_config: dict) -> None:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    app = create_app(app_config | {"SOCKETIO_ASYNC_MODE": "eventlet"})
    assert app.config["PIX_MERCHANT"].key == "52998224725"
    assert app.config["PIX_MERCHANT"].key != DEVELOPMENT_PIX_KEY
    assert app.test_client().get("/").status_code == 404  # no demo form in production
    assert app.config["LOCAL_BASE_URL"] == "https://localhost"  # what workers link to without PUBLIC_BASE_URL


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PIX_WEBHOOK_SECRET", "not-a-secret"),
        ("PIX_WEBHOOK_SECRET", "whsec_!!!"),
        ("PIX_WEBHOOK_SECRET", "whsec_c2hvcnQ="),
        ("PIX_KEY", "12345678900"),
        ("PIX_MERCHANT_CITY", "Cidade Com Nome Longo Demais"),
        ("PIX_MAX_VALUE", "zero"),
        ("PIX_EXPIRATION_MINUTES", "-5"),
    ],
)
def test_unusable_settings_stop_startup(app_config: dict[str, Any], setting: str, value: str) -> None:
    with pytest.raises(ConfigError):
        create_app(app_config | {setting: value})


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("APP_ENV", "prod"),
        ("APP_ENV", "Production"),
        ("SOCKETIO_ASYNC_MODE", "gevent_typo"),
        ("PIX_EXPIRATION_MINUTES", "1e20"),
        ("PIX_MAX_VALUE", "1e20"),
        ("PIX_MAX_VALUE", "0.001"),
        ("DISPLAY_TIMEZONE", "Mars/Olympus"),
        ("PIX_CREATE_RATE_LIMIT", "banana"),
        ("SOCKETIO_MESSAGE_QUEUE", "redis//127.0.0.1:6379"),
        ("SOCKETIO_MESSAGE_QUEUE", "amqp://guest:guest@127.0.0.1:5672//"),
        ("RATELIMIT_STORAGE_URI", "memcached://127.0.0.1:11211"),
    ],
)
def test_mistyped_settings_stop_startup_naming_the_variable(app_config: dict, setting: str, value: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        create_app(app_config | {setting: value})


@pytest.mark.parametrize(
    ("missing", "value"), [("SHOP_API_KEY", None), ("SHOP_API_KEY", "short"), ("TRUSTED_HOSTS", "")]
)
def test_production_needs_a_shop_key_and_trusted_hosts(app_config: dict, missing: str, value: str | None) -> None:
    with pytest.raises(ConfigError, match=missing):
        create_app(app_config | PRODUCTION | {missing: value})


def development_secret_spelled_differently() -> str:
    """The development key in another base64 spelling: the unused bits of the last character differ."""
    body = DEVELOPMENT_WEBHOOK_SECRET.removeprefix("whsec_").rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    spelled = "whsec_" + body[:-1] + alphabet[alphabet.index(body[-1]) + 1] + "="
    assert spelled != DEVELOPMENT_WEBHOOK_SECRET
    assert webhook_key(spelled) == webhook_key(DEVELOPMENT_WEBHOOK_SECRET)
    return spelled


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("PIX_WEBHOOK_SECRET", development_secret_spelled_differently(), "development PIX_WEBHOOK_SECRET"),
        ("PIX_WEBHOOK_SECRET", "whsec_" + base64.b64encode(bytes(32)).decode(), "not random"),
        ("PIX_WEBHOOK_SECRET", "whsec_" + base64.b64encode(b"abcdefghijklmnopqrstuvwxyz").decode(), "not random"),
        ("SHOP_API_KEY", "0" * 40, "not random"),
        ("SHOP_API_KEY", "password123password123password123", "not random"),
        ("PIX_EXPIRATION_MINUTES", "0.5", "PIX_EXPIRATION_MINUTES"),
        ("SOCKETIO_ASYNC_MODE", "threading", "threading"),
        ("DEBUG", True, "FLASK_DEBUG"),
    ],
)
def test_production_refuses_weak_or_unsafe_settings(
    app_config: dict[str, Any], setting: str, value: Any, complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        create_app(app_config | PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet", setting: value})


def test_production_refuses_the_debugger_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, app_config: dict[str, Any]
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        create_app(app_config | PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet"})


@pytest.mark.parametrize(("minutes", "seconds"), [("0.1", 6), ("0.05", 3), ("1.5", 90), ("10080", 7 * 24 * 3600)])
def test_payments_expire_after_any_fraction_of_a_minute_up_to_a_week(
    app_config: dict[str, Any], minutes: str, seconds: int
) -> None:
    client = create_app(app_config | {"PIX_EXPIRATION_MINUTES": minutes}).test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    left = datetime.fromisoformat(payment["expiration_date"]) - datetime.now(UTC)
    assert seconds - 2 < left.total_seconds() <= seconds


@pytest.mark.parametrize("minutes", ["0", "10080.01", "half"])
def test_an_expiration_outside_its_limits_stops_startup(app_config: dict[str, Any], minutes: str) -> None:
    with pytest.raises(ConfigError, match="PIX_EXPIRATION_MINUTES"):
        create_app(app_config | {"PIX_EXPIRATION_MINUTES": minutes})


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("TRUSTED_HOSTS", "*"),
        ("TRUSTED_HOSTS", "loja.example.com, *.example.com"),
        ("TRUSTED_HOSTS", "https://loja.example.com"),
        ("PROXY_FIX_HOPS", "-1"),
        ("PROXY_FIX_HOPS", "50"),
        ("SOCKETIO_MAX_SUBSCRIPTIONS", "0"),
        ("HTTP_IDLE_TIMEOUT", "0"),
        ("DATABASE_NETWORK_TIMEOUT", "0"),
        ("DATABASE_NETWORK_TIMEOUT", "ten"),
    ],
)
def test_nonsensical_settings_stop_startup_anywhere(app_config: dict[str, Any], setting: str, value: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        create_app(app_config | {setting: value})
