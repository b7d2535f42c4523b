"""A ``Receipt`` as ESC/POS bytes, built with python-escpos.

python-escpos 3.1 sends text containing CJK as GB18030 without switching the printer to Chinese
mode, and any other non-ASCII text through single-byte code pages. So text lines are encoded
here: ASCII as is; anything else as GB18030 between ``FS &`` (Chinese mode on) and ``FS .``
(off). ``text.printable`` has already reduced every line to ASCII plus two-byte GB codes.
Styles, the native QR code (``GS ( k``) and the cut come from python-escpos.

The whole job is built in memory and sent in one write, so a status query never lands in the
middle of a receipt and the bytes tested are the bytes printed.
"""

from __future__ import annotations

from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

from kiosk.peripherals.printer.receipt import Align, Cut, Feed, Line, QrCode, Receipt

FS_CHINESE_ON = b"\x1c\x26"  # FS &
FS_CHINESE_OFF = b"\x1c\x2e"  # FS .


def encode_text(text: str) -> bytes:
    """One line of printable text (see ``text.printable``) as printer bytes, without newline."""
    if text.isascii():
        return text.encode("ascii")
    return FS_CHINESE_ON + text.encode("gb18030", errors="replace") + FS_CHINESE_OFF


def encode(receipt: Receipt, profile: str | None = None) -> bytes:
    """The complete job: initialise, the lines, the QR code, feed and cut."""
    p = Dummy(profile=profile)
    p.hw("INIT")  # ESC @: left, normal size, not bold
    style = _Style(p)
    for op in receipt.ops:
        if isinstance(op, Line):
            style.apply(op.align, op.bold, op.tall)
            p._raw(encode_text(op.text.rstrip()) + b"\n")
        elif isinstance(op, QrCode):
            style.apply(Align.CENTER, False, False)
            p.qr(op.payload, ec=QR_ECLEVEL_M, size=op.module_dots, native=True)
            p._raw(b"\n")
        elif isinstance(op, Feed):
            p._raw(b"\n" * op.lines)
        elif isinstance(op, Cut):
            style.apply(Align.LEFT, False, False)
            p.cut(mode="PART")
    return p.output


class _Style:
    """Sends only the style changes, starting from the state ``ESC @`` leaves."""

    def __init__(self, printer: Dummy) -> None:
        self.p = printer
        self.align, self.bold, self.tall = Align.LEFT, False, False

    def apply(self, align: Align, bold: bool, tall: bool) -> None:
        if tall != self.tall:
            self.p.set(double_height=tall, normal_textsize=not tall)
        if bold != self.bold:
            self.p.set(bold=bold)
        if align != self.align:
            self.p.set(align=str(align))
        self.align, self.bold, self.tall = align, bold, tall
