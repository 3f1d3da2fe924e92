"""Composition root of the PIX checkout: create_app() and the `python app.py` server."""

import runtime

# First of all, before anything imports sockets or threads: only the server runs on green threads.
runtime.prepare(serving=__name__ == "__main__")

import logging
import os
import ssl
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_migrate import upgrade
from werkzeug.middleware.proxy_fix import ProxyFix

from cli import register_commands
from config import ConfigError, load_settings
from cycles import register_cycle_breakers
from db_models import db
from db_models.connections import configure_engine
from extensions import limiter, migrate, socketio
from log_setup import configure_logging, register_request_ids
from middleware import TrustedHosts, WholeBody, flat_call, origin_checker, socketio_headers
from pix.providers import ApiPixProvider, StaticProvider
from pix.psp_client import ApiPixClient
from routes import admin, api, api_pix_webhook, bank_webhooks, docs, monitoring, pages, refunds, webhook_endpoints
from routes.converters import PageTokenConverter, RowIdConverter
from routes.errors import register_error_handlers
from routes.event_names import route_reserved_names_to_catch_all
from routes.monitoring import register_request_metrics
from routes.operators_room import register_operator_handlers
from routes.rate_limit_headers import register_rate_limit_headers
from routes.realtime import register_socket_handlers
from routes.room_index import client_manager
from routes.sample_shop import ensure_sample_endpoint, register_sample_shop
from routes.security_headers import register_security_headers
from routes.shared_pings import SharedPings, SharedPingSocket
from routes.socket_budget import ConnectionBudget
from routes.socket_writer import OnDemandWriterSocket
from serving import serve
from templating import register_template_filters

log = logging.getLogger("pix_checkout")

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a configured app: defaults, then the environment, then config."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_settings(config, app.instance_path))
    register_extensions(app)
    register_pix_provider(app)
    register_middleware(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_rate_limit_headers(app)
    register_request_ids(app)
    register_request_metrics(app)
    register_template_filters(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, rate limits and Socket.IO to app."""
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    with app.app_context():
        configure_engine(db.engine, app.config["DATABASE_NETWORK_TIMEOUT"])
        if app.config["AUTO_MIGRATE"]:
            upgrade(directory=MIGRATIONS)
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode=runtime.socketio_async_mode(app.config["SOCKETIO_ASYNC_MODE"]),
        client_manager=client_manager(app.config["SOCKETIO_MESSAGE_QUEUE"], app.config["SOCKETIO_CHANNEL"]),
        ping_interval=app.config["SOCKETIO_PING_INTERVAL"],
        ping_timeout=app.config["SOCKETIO_PING_TIMEOUT"],
        monitor_clients=False,  # routes/shared_pings.py drops the connections that stop answering pings
        max_http_buffer_size=app.config["MAX_CONTENT_LENGTH"],
        # With TRUSTED_HOSTS, a browser may open a socket only from a trusted origin; else only from this one.
        cors_allowed_origins=origin_checker(rules) if (rules := app.config["TRUSTED_HOST_RULES"]) else None,
    )
    register_socket_handlers()
    register_operator_handlers()
    route_reserved_names_to_catch_all(socketio.server)
    register_cycle_breakers(app)
    ConnectionBudget(
        socketio.server,
        rate=app.config["SOCKETIO_EVENTS_PER_SECOND"],
        burst=app.config["SOCKETIO_EVENT_BURST"],
        max_queued=app.config["SOCKETIO_MAX_QUEUED_PACKETS"],
        cooldown=app.config["SOCKETIO_ABUSE_COOLDOWN"],
        sessions_per_address=app.config["SOCKETIO_SESSIONS_PER_ADDRESS"],
    )
    # Under threads, Engine.IO's queue is shared with real threads: its own writer thread stays.
    green = socketio.async_mode in runtime.GREEN_RUNTIMES
    SharedPings(socketio.server.eio, OnDemandWriterSocket if green else SharedPingSocket)


def register_pix_provider(app: Flask) -> None:
    """Who issues charges: static BR Codes built here, or charges (cob) at the PSP's API Pix."""
    merchant = app.config["PIX_MERCHANT"]
    if app.config["PIX_PSP"] is None:
        app.extensions["pix_provider"] = StaticProvider(merchant)
        return
    try:
        client = ApiPixClient(app.config["PIX_PSP"])
    except (ssl.SSLError, OSError) as error:
        raise ConfigError(f"PIX_PSP_CERTIFICATE or PIX_PSP_CA_BUNDLE is not usable: {error}") from None
    app.extensions["pix_provider"] = ApiPixProvider(client, merchant.key)


def register_middleware(app: Flask) -> None:
    """Wrap everything, Socket.IO included: proxy headers first, then the Host check, then whole bodies, then
    Engine.IO's own answers' headers."""
    app.wsgi_app = WholeBody(socketio_headers(flat_call(app.wsgi_app)), app.config["MAX_CONTENT_LENGTH"])
    if app.config["TRUSTED_HOST_RULES"]:
        app.wsgi_app = TrustedHosts(flat_call(app.wsgi_app), app.config["TRUSTED_HOST_RULES"])
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(flat_call(app.wsgi_app), x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def register_blueprints(app: Flask) -> None:
    """Mount the JSON API, the pages, and what is enabled: the API Pix webhook, the docs, the demo shop, metrics."""
    app.url_map.converters["page_token"] = PageTokenConverter
    app.url_map.converters["row_id"] = RowIdConverter
    app.register_blueprint(api.bp)
    app.register_blueprint(bank_webhooks.bp)
    app.register_blueprint(refunds.bp)
    app.register_blueprint(webhook_endpoints.bp)
    app.register_blueprint(pages.bp)
    if app.config["PIX_WEBHOOK_AUTH"] != "off":
        app.register_blueprint(api_pix_webhook.bp, url_prefix=app.config["PIX_WEBHOOK_PATH"])
    if app.config["API_DOCS_ENABLED"]:
        app.register_blueprint(docs.bp)
    if app.config["SAMPLE_SHOP_ENABLED"]:
        register_sample_shop(app)
    if app.config["METRICS_TOKEN"] or app.config["APP_ENV"] != "production":
        app.register_blueprint(monitoring.bp)
    if app.config["ADMIN_TOKEN"] or app.config["APP_ENV"] != "production":
        app.register_blueprint(admin.bp)


def main() -> None:
    """Entry point of `python app.py` and `make run`."""
    try:
        app = create_app()
    except ConfigError as error:
        sys.exit(f"PIX checkout refuses to start: {error}")
    configure_logging(app.config["LOG_FORMAT"])
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    base = f"http://{host}:{port}"
    log.info("PIX checkout (%s) serving on %s with %s", app.config["APP_ENV"], base, socketio.async_mode)
    log.info("Open %s/ to create a test payment and watch its page", base)
    log.info("Confirm one as the bank would: .venv/bin/flask --app app pix confirm <bank_payment_id> --url %s", base)
    if app.config["SAMPLE_SHOP_ENABLED"]:
        ensure_sample_endpoint(app)
        log.info("The demo shop lists the webhooks it receives at %s/demo-shop/", base)
    if app.config["PIX_SIMULATOR_URL"]:
        log.info("Or pay it at the PSP simulator, %s (each payment page links there)", app.config["PIX_SIMULATOR_URL"])
    serve(app, host, port)


if __name__ == "__main__":
    main()
