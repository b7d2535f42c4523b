"""CAS continuous output ("CAS 22-byte", CI/NT/PDS indicators and ER-series), 9600 8N1.

The scale streams, unasked, one line per reading::

    ST,GS,<id><lamp>,<8-char weight> kg CR LF      (22 bytes)
    ST,GS,+  4.876kg CR LF                          (the shorter form seen in the wild)

``ST``/``US``/``OL`` stable, unstable, overload; ``GS``/``NT`` gross, net. ``lamp`` is a bit
field (b6 stable, b2 gross, b1 tare, b0 zero point; b7 and b5 set), the only byte allowed to have
the high bit set. Motion is taken from the ``ST``/``US`` header. The stream has no zero or tare
command: the bagging role zeroes in software; the produce role must use the scale's own keys.
"""

from __future__ import annotations

import re

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
MAX_LINE = 48
_HEADER = re.compile(rb"(ST|US|OL),(GS|NT),")
_WEIGHT = re.compile(r"([-+ 0-9.]{7}[0-9]) ?(kg|lb)")  # fixed width, so a lost byte shows
LAMP_STABLE, LAMP_GROSS, LAMP_TARE, LAMP_ZERO = 0x40, 0x04, 0x02, 0x01


def decode_line(line: bytes) -> Frame | None:
    """Decode one line (CR LF removed). None when no header is found: the stream's first,
    cut-off line after the port opens, or noise."""
    headers = list(_HEADER.finditer(line))
    if not headers:
        return None
    head = headers[-1]  # a cut-off frame followed by a whole one: keep the whole one
    state, mode = head.group(1).decode(), head.group(2).decode()
    rest = line[head.end():]
    lamp: int | None = None
    if len(rest) >= 3 and rest[2:3] == b",":  # 22-byte form: device id, lamp byte, comma
        lamp, rest = rest[1], rest[3:]
    tag = f"{state},{mode}"
    net = mode == "NT"
    centre = lamp is not None and bool(lamp & LAMP_ZERO)
    motion = state == "US"
    if state == "OL":
        return Frame(FrameKind.READING, Status.OVER_CAPACITY, motion=motion, net=net, tag=tag)
    if not is_printable_ascii(rest):
        return Frame.garbled(f"{tag} bytes")
    match = _WEIGHT.fullmatch(rest.decode("ascii").rstrip())
    if match is None:
        return Frame.garbled(f"{tag} weight")
    grams = to_grams(match.group(1), match.group(2))
    if grams is None:
        if match.group(2) == "lb":
            return Frame(FrameKind.READING, Status.ERROR, motion=motion, net=net, tag=f"{tag} lb")
        return Frame.garbled(f"{tag} weight")
    if grams < 0:
        return Frame(FrameKind.READING, Status.UNDER_ZERO, motion=motion, net=net, tag=tag)
    return Frame(FrameKind.READING, status_of(motion=motion), grams, motion=motion, net=net,
                 centre_of_zero=centre, tag=tag)


class CasParser(FrameParser):
    def __init__(self) -> None:
        self._line = bytearray()

    def reset(self) -> None:
        self._line.clear()

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        for byte in data:
            if byte == LF:
                frame = decode_line(bytes(self._line.rstrip(b"\r")))
                if frame is not None:
                    frames.append(frame)
                self._line.clear()
            else:
                self._line.append(byte)
                if len(self._line) > MAX_LINE:  # noise with no line end: keep a tail to resync on
                    del self._line[:-24]
        return frames


def frame(indication: Indication, device_id: bytes = b"1") -> bytes:
    """The 22-byte line for what the scale shows."""
    ind = indication
    state = b"OL" if ind.over_capacity else (b"US" if ind.motion else b"ST")
    lamp = 0xA0 | (0 if ind.motion else LAMP_STABLE) | (LAMP_TARE if ind.net else LAMP_GROSS)
    lamp |= LAMP_ZERO if ind.centre_of_zero else 0
    value = max(-9_999_999, min(ind.weight_g, 99_999_999))
    weight = kg_text(value, 8) if value < 0 else "+" + kg_text(value, 7)
    return (state + b"," + (b"NT" if ind.net else b"GS") + b"," + device_id[:1] + bytes([lamp])
            + b"," + weight.encode("ascii") + b" kg\r\n")


class CasDevice(DeviceSide):
    def feed(self, data: bytes) -> list[str]:
        return []  # continuous output only: host bytes are ignored

    def respond(self, request: str, scale: Weighable) -> bytes:
        return b""

    def stream(self, indication: Indication) -> bytes:
        return frame(indication)


class Cas(ScaleProtocol):
    name = "cas"
    title = "CAS 22-byte continuous"
    settings = SerialSettings(9600, 8, "N", 1)
    continuous = True
    reply_timeout_s = 1.0  # silence longer than this counts as no answer
    # no `requests`: a continuous scale takes no commands (zero/tare on its own keys)

    def parser(self) -> CasParser:
        return CasParser()

    def accepted(self, command: Command, frame: Frame) -> bool:
        return False

    def device(self) -> CasDevice:
        return CasDevice()
