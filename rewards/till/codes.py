"""The receipt's machine-readable codes, drawn on the server as inline SVG (no image files, no
network): the receipt number as a Code128 barcode (scanned back at the returns page) and the
walk-in customer's join link as a QR code."""

from __future__ import annotations

import io
import re

import barcode
import segno
from barcode.writer import SVGWriter


def code128_svg(text: str) -> str:
    """The `<svg>` element of a Code128 barcode of `text`, without the text line under it."""
    out = io.BytesIO()
    barcode.get("code128", text, writer=SVGWriter()).write(
        out, options={"module_width": 0.2, "module_height": 10.0, "quiet_zone": 2.0, "write_text": False}
    )
    svg = out.getvalue().decode()
    svg = svg[svg.index("<svg") :]
    # Sized in mm by the library; a viewBox (in CSS px: the unit of the inner mm lengths) lets the
    # page scale it to the paper's width (an 80 mm receipt prints about 72 mm).
    size = re.search(r'width="([\d.]+)mm" height="([\d.]+)mm"', svg)
    width, height = (float(value) * 96 / 25.4 for value in size.groups())
    return svg.replace(
        size.group(0),
        f'width="100%" viewBox="0 0 {width:.1f} {height:.1f}" preserveAspectRatio="none" class="receipt-barcode"',
        1,
    )


def qr_svg(data: str) -> str:
    """The `<svg>` element of a QR code of `data` (medium error correction, 4 px modules)."""
    out = io.BytesIO()
    segno.make_qr(data, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return out.getvalue().decode()
