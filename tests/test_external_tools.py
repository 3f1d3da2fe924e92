"""The test helpers find the tools Debian installs, whatever PATH the suite was started with."""

from pathlib import Path

import pytest

from tests.external_tools import require_executable, require_path

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
