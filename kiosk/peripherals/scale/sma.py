"""SMA SCP-0499 level 1 (Scale Manufacturers Association), usually 9600 8N1.

Every request is ``LF c CR``: ``W`` weigh now, ``Z`` zero, ``T`` tare, ``C`` clear tare.
The standard response is ``LF s r n m f <10-char weight> <3-char unit> CR``:

- ``s`` status: ``Z`` centre of zero, ``O`` over capacity, ``U`` under capacity (negative),
  ``E`` zero error, ``I`` initial-zero error, ``T`` tare error, space = none
- ``r`` range digit, ``n`` ``G``/``N`` gross/net (``g``/``n`` high resolution, ``T`` tare report)
- ``m`` ``M`` in motion, space stable; ``f`` reserved (space)

An unknown request gets ``LF ? CR``. ``about``/``info`` lines (``SMA:``, ``MFG:`` ...) are skipped.
"""

from __future__ import annotations

from kiosk.peripherals.scale.protocol import DeviceSide, FrameParser, ScaleProtocol, Weighable
from kiosk.peripherals.scale.reading import (
    Command,
    Frame,
    FrameKind,
    Indication,
    SerialSettings,
    Status,
    is_printable_ascii,
    kg_text,
    status_of,
    to_grams,
)

LF = 0x0A
CR = 0x0D
ESC = 0x1B
BODY_LEN = 18  # s r n m f + 10 weight + 3 unit
MAX_BODY = 40
MAX_DISPLAY_G = 999_999_999
_INFO_PREFIXES = ("SMA:", "MFG:", "MOD:", "REV:", "END:", "TYP:", "CAP:", "CMD:")
_STATUS = {" ": "", "Z": "centre", "O": "over", "U": "under", "E": "zero", "I": "zero", "T": "tare"}


def decode_body(body: bytes) -> Frame | None:
    """Decode what came between LF and CR; None for lines that are not weight reports."""
    if not is_printable_ascii(body):
        return Frame.garbled("bytes")
    text = body.decode("ascii")
    if text == "?":
        return Frame(FrameKind.REJECTED, Status.ERROR, tag="?")
    if text.startswith(_INFO_PREFIXES):
        return None
    if len(text) != BODY_LEN:
        return Frame.garbled(f"length {len(text)}")
    s, r, n, m = text[0], text[1], text[2], text[3]
    field, unit = text[5:15], text[15:18]
    if s not in _STATUS or not r.isdigit() or n not in "GNTgn" or m not in " M":
        return Frame.garbled(f"fields {text[:5]!r}")
    tag = f"{s}{n}{m}".replace(" ", "_")
    motion = m == "M"
    net = n in "Nn"
    if n == "T":  # the tare weight (reply to M): not a weight on the platter
        return Frame(FrameKind.ACK, Status.OK, tag=tag)
    flag = _STATUS[s]
    if flag == "tare":
        return Frame(FrameKind.READING, Status.ERROR, motion=motion, net=net, tag=tag)
    status = status_of(over=flag == "over", under=flag == "under", zero_error=flag == "zero",
                       motion=motion)
    if status not in (Status.OK, Status.MOTION):
        return Frame(FrameKind.READING, status, motion=motion, net=net, tag=tag)
    if field.strip("-") == "":  # "----------": no weight to show (e.g. no stability in time)
        return Frame(FrameKind.READING, status_of(motion=motion, error=not motion),
                     motion=motion, net=net, tag=tag)
    grams = to_grams(field, unit)
    if grams is None:
        if unit.strip() in ("lb", "oz"):
            return Frame(FrameKind.READING, Status.ERROR, motion=motion, net=net, tag=f"unit {unit.strip()}")
        return Frame.garbled(f"weight {field!r} {unit!r}")
    if grams < 0:
        return Frame(FrameKind.READING, Status.UNDER_ZERO, motion=motion, net=net, tag=tag)
    return Frame(FrameKind.READING, status, grams, motion=motion, net=net,
                 centre_of_zero=s == "Z", tag=tag)


class SmaParser(FrameParser):
    def __init__(self) -> None:
        self._body: bytearray | None = None  # None while hunting for LF

    def reset(self) -> None:
        self._body = None

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        for byte in data:
            if byte == LF:
                self._body = bytearray()
            elif self._body is None:
                continue
            elif byte == CR:
                frame = decode_body(bytes(self._body))
                if frame is not None:
                    frames.append(frame)
                self._body = None
            else:
                self._body.append(byte)
                if len(self._body) > MAX_BODY:
                    frames.append(Frame.garbled("overlong"))
                    self._body = None
        return frames


def response(indication: Indication, *, status: str | None = None, tare_report: int | None = None) -> bytes:
    """The standard response for what the scale shows (``status`` overrides the ``s`` field)."""
    ind = indication
    if status is None:
        status = ("O" if ind.over_capacity else "U" if ind.under_zero or ind.weight_g < 0 else
                  "E" if ind.zero_error else "Z" if ind.centre_of_zero else " ")
    gross_net = "T" if tare_report is not None else ("N" if ind.net else "G")
    motion = "M" if ind.motion else " "
    if status in "EIT":
        field = "-" * 10
    else:
        value = tare_report if tare_report is not None else ind.weight_g
        field = kg_text(max(-MAX_DISPLAY_G, min(value, MAX_DISPLAY_G)), 10)
    return f"\n{status}1{gross_net}{motion} {field}kg \r".encode("ascii")


class SmaDevice(DeviceSide):
    def __init__(self) -> None:
        self._line: bytearray | None = None

    def feed(self, data: bytes) -> list[str]:
        requests: list[str] = []
        for byte in data:
            if byte == LF:
                self._line = bytearray()
            elif byte == ESC:
                self._line = None  # ESC aborts wherever it appears
            elif self._line is None:
                continue
            elif byte == CR:
                requests.append(self._line.decode("ascii", "replace"))
                self._line = None
            elif len(self._line) < 32:
                self._line.append(byte)
        return requests

    def respond(self, request: str, scale: Weighable) -> bytes:
        command = request[:1]
        if command in ("W", "H", "P", "R", "S") and len(request) == 1:
            return response(scale.indication())
        if request == "Z":
            outcome = scale.zero()
            return response(scale.indication(), status=None if outcome == "ok" else "E")
        if request == "T":
            outcome = scale.tare()
            return response(scale.indication(), status=None if outcome == "ok" else "T")
        if request == "C":
            scale.clear_tare()
            return response(scale.indication())
        if request == "M":
            return response(scale.indication(), tare_report=scale.tare_g)
        return b"\n?\r"


class Sma(ScaleProtocol):
    name = "sma"
    title = "SMA SCP-0499 level 1"
    settings = SerialSettings(9600, 8, "N", 1)
    reply_timeout_s = 1.0
    command_timeout_s = 3.0

    requests = {Command.WEIGH: b"\nW\r", Command.ZERO: b"\nZ\r", Command.TARE: b"\nT\r",
                Command.CLEAR_TARE: b"\nC\r"}

    def parser(self) -> SmaParser:
        return SmaParser()

    def accepted(self, command: Command, frame: Frame) -> bool:
        if frame.kind is not FrameKind.READING:
            return False
        if command is Command.ZERO:
            return frame.centre_of_zero
        if command is Command.TARE:
            return frame.net and frame.status in (Status.OK, Status.MOTION)
        if command is Command.CLEAR_TARE:
            return not frame.net and frame.status is not Status.ERROR
        return True

    def device(self) -> SmaDevice:
        return SmaDevice()
