"""deploy/nginx.conf, run by Debian's nginx on loopback in front of two checkout processes."""

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import migrate, start_processes, wait_for, watch
from tests.external_tools import require_executable
from tests.live_server import REPO_ROOT, CheckoutClient, free_port
from tests.services import fresh_postgres_database

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


@pytest.fixture(scope="module")
def through_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of nginx, configured with deploy/nginx.conf, in front of two processes."""
    nginx = require_executable("nginx", "test the nginx configuration in deploy/")
    workdir = tmp_path_factory.mktemp("nginx")
    with fresh_postgres_database() as database_url:
        migrate(database_url)
        servers = start_processes(workdir, 2, DATABASE_URL=database_url, PROXY_FIX_HOPS="1")
        port = free_port()
        site = SITE.read_text()
        for original, server in zip(("127.0.0.1:5001", "127.0.0.1:5002"), servers, strict=True):
            site = site.replace(original, f"127.0.0.1:{server.port}")
        (workdir / "site.conf").write_text(site.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
        (workdir / "nginx.conf").write_text(main_config(workdir, workdir / "site.conf"))
        process = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf")])
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, process, workdir)
            yield url
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
def test_confirmation_through_nginx_reaches_the_page(through_nginx: str, transport: str) -> None:
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


def test_pages_through_nginx_carry_the_apps_security_headers_once(through_nginx: str) -> None:
    payment = CheckoutClient(through_nginx).create_payment(5)
    status, headers = headers_of(payment["page_url"])
    policies = [value for name, value in headers if name.lower() == "content-security-policy"]
    assert status == 200
    assert len(policies) == 1
    assert "script-src 'self'" in policies[0]
    assert [value for name, value in headers if name.lower() == "x-content-type-options"] == ["nosniff"]


def test_what_nginx_answers_itself_carries_strict_headers(through_nginx: str) -> None:
    status, headers = headers_of(f"{through_nginx}/payments/pix", b"x" * 70_000)  # over client_max_body_size
    named = {name.lower(): value for name, value in headers}
    assert status == 413
    assert named["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert (named["x-frame-options"], named["x-content-type-options"]) == ("DENY", "nosniff")
