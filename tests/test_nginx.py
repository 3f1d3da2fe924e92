"""deploy/nginx.conf, run by Debian's nginx on loopback in front of two checkout processes."""

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.production import DEVELOPMENT_PIX_KEY
from tests.certificates import Pki, make_pki
from tests.cluster import migrate, start_processes, wait_for, watch
from tests.external_tools import require_executable
from tests.live_server import REPO_ROOT, CheckoutClient, free_port
from tests.services import fresh_postgres_database
from tests.simulator import SimulatorProcess

SITE = REPO_ROOT / "deploy" / "nginx.conf"


def main_config(workdir: Path, site: Path) -> str:
    """A minimal nginx.conf that keeps every file nginx writes inside workdir."""
    temp_paths = "\n".join(f"    {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must be able to write workdir
    return f"""{user}daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log {workdir / "access.log"};
{temp_paths}
    fastcgi_temp_path {workdir / "fastcgi"};
    uwsgi_temp_path {workdir / "uwsgi"};
    scgi_temp_path {workdir / "scgi"};
    include {site};
}}
"""


@dataclass(frozen=True)
class Nginx:
    """nginx running deploy/nginx.conf: the buyers' plain URL, the PSP's mutual-TLS URL and the certificates."""

    url: str
    psp_url: str
    pki: Pki


@pytest.fixture(scope="module")
def nginx_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    """deploy/nginx.conf run by nginx in front of two processes (the API Pix webhook in mTLS mode)."""
    nginx = require_executable("nginx", "test the nginx configuration in deploy/")
    workdir = tmp_path_factory.mktemp("nginx")
    pki = make_pki(workdir / "tls")
    with fresh_postgres_database() as database_url:
        migrate(database_url)
        servers = start_processes(workdir, 2, DATABASE_URL=database_url, PROXY_FIX_HOPS="1", PIX_WEBHOOK_AUTH="mtls")
        port, psp_port = free_port(), free_port()
        site = SITE.read_text().replace("/etc/nginx/pix-checkout/", f"{workdir / 'tls'}/")
        site = site.replace("server.pem;", f"{pki.server_cert.name};").replace("server.key;", f"{pki.server_key.name};")
        for original, server in zip(("127.0.0.1:5001", "127.0.0.1:5002"), servers, strict=True):
            site = site.replace(original, f"127.0.0.1:{server.port}")
        site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
        (workdir / "site.conf").write_text(site.replace("listen 8443 ssl;", f"listen 127.0.0.1:{psp_port} ssl;"))
        (workdir / "nginx.conf").write_text(main_config(workdir, workdir / "site.conf"))
        process = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf")])
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process, workdir)
            yield Nginx(url, f"https://localhost:{psp_port}", pki)
        finally:
            process.terminate()
            process.wait(timeout=10)
            for server in servers:
                server.stop()


def wait_until_up(url: str, process: subprocess.Popen, workdir: Path) -> None:
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError((workdir / "error.log").read_text())
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nginx did not answer")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_confirmation_through_nginx_reaches_the_page(nginx_site: Nginx, transport: str) -> None:
    through_nginx = nginx_site.url
    shop = CheckoutClient(through_nginx)
    payment = shop.create_payment(15)
    assert payment["page_url"].startswith(f"{through_nginx}/payments/pix/")
    page, statuses = watch(through_nginx, payment, transport)
    try:
        assert shop.confirm(payment)[0] == 200
        wait_for(lambda: "paid" in statuses)
        assert statuses == ["pending", "paid"]
    finally:
        page.disconnect()


def headers_of(url: str, body: bytes | None = None) -> tuple[int, list[tuple[str, str]]]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.getheaders()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.items()


def test_pages_through_nginx_carry_the_apps_security_headers_once(nginx_site: Nginx) -> None:
    payment = CheckoutClient(nginx_site.url).create_payment(5)
    status, headers = headers_of(payment["page_url"])
    policies = [value for name, value in headers if name.lower() == "content-security-policy"]
    assert status == 200
    assert len(policies) == 1
    assert "script-src 'self'" in policies[0]
    assert [value for name, value in headers if name.lower() == "x-content-type-options"] == ["nosniff"]


def test_what_nginx_answers_itself_carries_strict_headers(nginx_site: Nginx) -> None:
    status, headers = headers_of(f"{nginx_site.url}/payments/pix", b"x" * 70_000)  # over client_max_body_size
    named = {name.lower(): value for name, value in headers}
    assert status == 413
    assert named["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert (named["x-frame-options"], named["x-content-type-options"]) == ("DENY", "nosniff")


def psp_post(nginx_site: Nginx, payment: dict, client_cert: Path | None, url: str | None = None, **headers: str):
    """POST a one-item API Pix batch for payment, as the PSP does, presenting client_cert."""
    context = ssl.create_default_context(cafile=nginx_site.pki.server_ca)
    if client_cert is not None:
        context.load_cert_chain(client_cert)
    item = {"endToEndId": "E1234567820261201" + uuid.uuid4().hex[:15], "txid": payment["txid"]}
    item |= {"valor": f"{payment['value']:.2f}", "horario": datetime.now(UTC).isoformat()}
    body = json.dumps({"pix": [item]}).encode()
    target = url or f"{nginx_site.psp_url}/webhooks/api-pix/pix"
    request = urllib.request.Request(target, body, {"Content-Type": "application/json", **headers}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def paid(nginx_site: Nginx, payment: dict) -> bool:
    status = CheckoutClient(nginx_site.url).request("GET", payment["status_url"].removeprefix(nginx_site.url))
    return status[1]["payment"]["paid"]


def test_the_psp_webhook_over_mutual_tls_pays_the_charge(nginx_site: Nginx) -> None:
    payment = CheckoutClient(nginx_site.url).create_payment(12)
    assert psp_post(nginx_site, payment, nginx_site.pki.psp_client) == 200
    assert paid(nginx_site, payment)


@pytest.mark.parametrize("certificate", ["none", "stranger"])
def test_without_the_psps_certificate_nginx_refuses_it(nginx_site: Nginx, certificate: str) -> None:
    payment = CheckoutClient(nginx_site.url).create_payment(13)
    client_cert = None if certificate == "none" else nginx_site.pki.stranger_client
    try:
        status = psp_post(nginx_site, payment, client_cert)
    except (ssl.SSLError, urllib.error.URLError, ConnectionError):
        status = "handshake refused"
    assert status in (400, "handshake refused")
    assert not paid(nginx_site, payment)


def test_a_forged_verification_header_on_the_buyers_port_is_ignored(nginx_site: Nginx) -> None:
    payment = CheckoutClient(nginx_site.url).create_payment(14)
    url = f"{nginx_site.url}/webhooks/api-pix/pix"
    assert psp_post(nginx_site, payment, None, url=url, **{"X-SSL-Client-Verify": "SUCCESS"}) == 401
    assert not paid(nginx_site, payment)


def test_the_simulated_psp_pays_through_nginx_over_mutual_tls(nginx_site: Nginx, tmp_path: Path) -> None:
    """The whole path a real PSP takes: its client certificate, nginx's verification, the app's trust in it."""
    webhook = f"{nginx_site.psp_url}/webhooks/api-pix?ignorar="
    psp = SimulatorProcess(
        tmp_path,
        SIM_WEBHOOK_URLS=f"{DEVELOPMENT_PIX_KEY}={webhook}",
        SIM_WEBHOOK_CLIENT_CERT=str(nginx_site.pki.psp_client),
        SIM_WEBHOOK_CA=str(nginx_site.pki.server_ca),
    )
    psp.start()
    try:
        payment = CheckoutClient(nginx_site.url).create_payment(19)
        with psp.client() as control:
            assert control.post("/sim/pay-code", json={"pixCopiaECola": payment["pix_copy_paste"]}).status_code == 201
        wait_for(lambda: paid(nginx_site, payment), timeout=10)
    finally:
        psp.stop()
