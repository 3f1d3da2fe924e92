"""QR codes of BR Code text, rendered in memory: a PNG for the API, an SVG of whole modules for the page."""

import io
from functools import lru_cache
from itertools import groupby

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


def _code(text: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=QUIET_ZONE)
    code.add_data(text)
    code.make(fit=True)
    return code


@lru_cache(maxsize=512)
def render_qr_png(text: str) -> bytes:
    """PNG bytes of a QR code for text; cached because a payment's code never changes."""
    buffer = io.BytesIO()
    _code(text).make_image().save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=512)
def _modules(text: str) -> tuple[tuple[bool, ...], ...]:
    return tuple(tuple(row) for row in _code(text).get_matrix())


def qr_modules(text: str) -> int:
    """How many modules wide the code of text is, quiet zone included: its displayed size is a multiple of this."""
    return len(_modules(text))


@lru_cache(maxsize=512)
def render_qr_svg(text: str) -> bytes:
    """SVG bytes of a QR code for text, one user unit per module, so any whole scale keeps every module even."""
    rows = _modules(text)
    side = len(rows)
    path = []
    for y, row in enumerate(rows):
        x = 0
        for dark, run in groupby(row):
            width = len(list(run))
            if dark:
                path.append(f"M{x} {y}h{width}v1h-{width}z")
            x += width
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" width="{side}" height="{side}"'
        f' shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path d="{"".join(path)}"/></svg>'
    ).encode()
