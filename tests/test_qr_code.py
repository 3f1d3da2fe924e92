"""GET /payments/pix/qr_code/<name>: a PNG a real decoder reads as the BR Code, served from memory."""

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import zxingcpp
from flask.testing import FlaskClient
from PIL import Image


def test_qr_code_decodes_to_the_copy_paste_code(client: FlaskClient, make_payment: Callable) -> None:
    payment = make_payment("1234.56")
    response = client.get(payment["qr_code_url"])
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [code.text for code in decoded] == [payment["pix_copy_paste"]]
    assert "54071234.56" in payment["pix_copy_paste"]


def test_qr_code_is_cached_by_the_browser(client: FlaskClient, make_payment: Callable) -> None:
    response = client.get(make_payment()["qr_code_url"])
    assert "max-age=86400" in response.headers["Cache-Control"]
    assert "immutable" in response.headers["Cache-Control"]
    again = client.get(response.request.path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_qr_codes_are_not_written_to_disk(client: FlaskClient, make_payment: Callable) -> None:
    root = Path(__file__).resolve().parents[1]
    before = {p for p in root.rglob("*.png") if ".venv" not in p.parts}
    client.get(make_payment()["qr_code_url"])
    assert {p for p in root.rglob("*.png") if ".venv" not in p.parts} == before


@pytest.mark.parametrize(
    "name",
    [
        "qr_code_payment_nope",
        "unknown",
        "qr_code_payment_",
        "..%2F..%2Fapp.py",
        "qr_code_payment_..%2F..%2Fapp.py",
        "%2E%2E",
    ],
)
def test_unknown_qr_code_is_404(client: FlaskClient, name: str) -> None:
    response = client.get(f"/payments/pix/qr_code/{name}")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_path_traversal_never_serves_a_file(client: FlaskClient) -> None:
    response = client.get("/payments/pix/qr_code/../../app.py")
    assert response.status_code == 404
    assert b"create_app" not in response.data
