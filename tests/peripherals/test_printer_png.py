"""The PNG preview: the printer's grid, readable Chinese, a scannable-size QR."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from kiosk.peripherals.printer import png
from kiosk.peripherals.printer.receipt import Line, QrCode, Receipt, ReceiptSettings, layout_sale
from tests.peripherals.test_printer_receipt import make_sale

SETTINGS = ReceiptSettings(store="Demo Store 演示店", kiosk_id="kiosk-001", lane=1)


def test_cjk_font_is_the_monospaced_noto() -> None:
    face = png.font()
    if not hasattr(face, "getname") or face.getname()[0] != png.FACE:
        pytest.skip("fonts-noto-cjk is not installed")
    assert face.getlength("A") == png.CELL_W and face.getlength("中") == 2 * png.CELL_W


def test_render_has_the_printer_width_and_a_plausible_length(tmp_path: Path) -> None:
    receipt = layout_sale(make_sale(), SETTINGS)
    img = png.save_png(receipt, tmp_path / "r.png")
    assert img.width == 48 * png.CELL_W + 2 * png.MARGIN == 608
    assert 900 < img.height < 2000
    with Image.open(tmp_path / "r.png") as again:
        assert again.format == "PNG" and again.size == img.size
    narrow = png.render(layout_sale(make_sale(), ReceiptSettings(store="S", kiosk_id="k", width=32)))
    assert narrow.width == 32 * png.CELL_W + 2 * png.MARGIN


def test_text_is_drawn_where_the_printer_puts_it() -> None:
    # a line "中A" : the CJK glyph fills columns 0-1, the A column 2, nothing after
    img = png.render(Receipt((Line("中A"),), 8))
    pixels = img.load()
    assert pixels is not None
    ink = [x for x in range(img.width) if any(int(pixels[x, y]) < 128 for y in range(img.height))]  # type: ignore[arg-type]
    assert ink, "nothing drawn"
    assert min(ink) >= png.MARGIN - 1
    assert max(ink) < png.MARGIN + 3 * png.CELL_W + 1


def test_qr_is_drawn_and_centred() -> None:
    img = png.render(Receipt((QrCode("KR1:tok123ABC"),), 48))
    pixels = img.load()
    assert pixels is not None
    dark = [(x, y) for x in range(0, img.width, 2) for y in range(0, img.height, 2) if pixels[x, y] == 0]
    xs = [x for x, _ in dark]
    assert dark and abs((min(xs) + max(xs)) / 2 - img.width / 2) < 8
    assert max(xs) - min(xs) > 100  # 6 dots per module


def test_scale() -> None:
    small = png.render(Receipt((Line("x"),), 32))
    assert png.render(Receipt((Line("x"),), 32), scale=2).size == (small.width * 2, small.height * 2)
