"""The test helpers find the tools Debian installs whatever PATH the suite starts with, and say what to set
when one refuses."""

from pathlib import Path

import pytest

from tests import services
from tests.external_tools import require_executable, require_path, require_service

DEBIAN_NGINX = Path("/usr/sbin/nginx")


def test_nginx_is_found_in_usr_sbin_with_a_path_that_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    require_path(DEBIAN_NGINX, "check that the nginx tests find Debian's nginx")
    monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")  # what `make test` gets from a non-login shell
    assert require_executable("nginx", "test the nginx configuration in deploy/") == str(DEBIAN_NGINX)


def test_a_tool_on_path_is_found_there_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool = tmp_path / "nginx"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert require_executable("nginx", "test the nginx configuration in deploy/") == str(tool)


def test_a_postgres_that_refuses_the_login_says_which_setting_to_change(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = services.POSTGRES_ADMIN_URL
    require_service("PostgreSQL", admin.host or "127.0.0.1", admin.port or 5432, "check its refusal's message")
    monkeypatch.setattr(services, "POSTGRES_ADMIN_URL", admin.set(username="no_such_role_for_pix_tests"))
    monkeypatch.delenv("CI", raising=False)  # a skip, as on a laptop, so the message can be read here
    with pytest.raises(pytest.skip.Exception, match="set TEST_POSTGRES_URL"), services.fresh_postgres_database():
        pass
