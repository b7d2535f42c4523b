"""A ``Receipt`` drawn as a PNG: the on-screen e-receipt and the staff reprint preview.

Drawn on the printer's own grid (12 x 24 dots per column, CJK two columns wide, 203 dpi) with
Noto Sans Mono CJK, whose Latin is exactly half the width of its CJK, so what aligns on paper
aligns here. Double-height lines are stretched like the printer does it.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageChops, ImageDraw, ImageFont

from kiosk.peripherals.printer.receipt import Align, Cut, Feed, Line, QrCode, Receipt
from kiosk.peripherals.printer.text import char_width, display_width

log = logging.getLogger(__name__)

CELL_W = 12  # dots per column (font A)
GLYPH_H = 24
LINE_H = 30  # the printer's default line spacing
MARGIN = 16
FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk")
FACE = "Noto Sans Mono CJK SC"

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=4)
def font(bold: bool = False) -> FontType:
    """Noto Sans Mono CJK SC (fonts-noto-cjk); PIL's own font if it is missing (no CJK then)."""
    name = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
    for folder in FONT_DIRS:
        path = Path(folder) / name
        if not path.is_file():
            continue
        for index in range(10):
            try:
                face = ImageFont.truetype(str(path), GLYPH_H, index=index)
            except OSError:
                break
            if face.getname()[0] == FACE:
                return face
    if bold:
        return font(False)
    log.warning("font %s not found (install fonts-noto-cjk); receipt previews will lack Chinese", FACE)
    return ImageFont.load_default(GLYPH_H)


def _line_height(op: object) -> int:
    if isinstance(op, Line):
        return LINE_H * 2 if op.tall else LINE_H
    if isinstance(op, Feed):
        return LINE_H * op.lines
    if isinstance(op, QrCode):
        return _qr_image(op.payload, op.module_dots).height + LINE_H // 2
    return LINE_H  # cut


@lru_cache(maxsize=16)
def _qr_image(payload: str, module_dots: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module_dots, border=0)
    code.add_data(payload)
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def _draw_text(img: Image.Image, x0: int, y0: int, text: str, bold: bool) -> None:
    draw = ImageDraw.Draw(img)
    face = font(bold)
    x = x0
    for ch in text:
        cells = char_width(ch)
        if ch != " " and cells:
            advance = face.getlength(ch)
            draw.text((x + (cells * CELL_W - advance) / 2, y0), ch, font=face, fill=0)
        x += cells * CELL_W


def render(receipt: Receipt, scale: int = 1) -> Image.Image:
    """The receipt as a greyscale image ``width x 12`` dots wide plus margins."""
    paper_w = receipt.width * CELL_W
    height = MARGIN * 2 + sum(_line_height(op) for op in receipt.ops)
    img = Image.new("L", (paper_w + 2 * MARGIN, height), 255)
    y = MARGIN
    for op in receipt.ops:
        h = _line_height(op)
        if isinstance(op, Line):
            text = op.text.rstrip()
            x = MARGIN + (max(0, receipt.width - display_width(text)) // 2 * CELL_W if op.align is Align.CENTER else 0)
            if op.tall:
                strip = Image.new("L", (paper_w + 2 * MARGIN, LINE_H), 255)
                _draw_text(strip, x, 0, text, op.bold)
                tall = strip.resize((strip.width, LINE_H * 2))
                box = (0, y, tall.width, y + tall.height)
                # darker-of, not paste: descenders of the line above reach into this band
                img.paste(ImageChops.darker(img.crop(box), tall), box)
            else:
                _draw_text(img, x, y, text, op.bold)
        elif isinstance(op, QrCode):
            qr = _qr_image(op.payload, op.module_dots)
            img.paste(qr, (MARGIN + (paper_w - qr.width) // 2, y))
        elif isinstance(op, Cut):
            draw = ImageDraw.Draw(img)
            mid = y + h // 2
            for x in range(MARGIN, MARGIN + paper_w, 12):
                draw.line((x, mid, x + 6, mid), fill=128, width=2)
        y += h
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img


def save_png(receipt: Receipt, path: str | Path, scale: int = 1) -> Image.Image:
    img = render(receipt, scale)
    img.save(str(path), format="PNG", optimize=True)
    return img
