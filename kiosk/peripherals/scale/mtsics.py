"""Mettler Toledo MT-SICS (Standard Interface Command Set), 9600 8N1, lines end in CR LF.

Host: ``SI`` weigh immediately, ``S`` stable weight, ``Z`` zero, ``T`` tare, ``TAC`` clear tare.
Weight replies: ``S S <value> <unit>`` stable, ``S D <value> <unit>`` dynamic (in motion),
``S +`` overload, ``S -`` underload, ``S I`` not executable (busy). ``Z A`` zeroed, ``Z I`` not
done, ``Z +``/``Z -`` outside the zero range; ``T S <tare> <unit>`` tared, ``T I``/``T +``/``T -``
not; ``TAC A`` tare cleared. ``ES``/``ET``/``EL``: syntax, transmission or logical error.
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
MAX_LINE = 64
_ERRORS = {"ES", "ET", "EL"}
_ACK_IDS = {"Z", "ZI", "T", "TI", "TAC"}
_SKIPPED_IDS = {"I0", "I1", "I2", "I3", "I4", "@"}  # identification lines


def decode_line(line: bytes) -> Frame | None:
    """Decode one line (without CR LF); None for lines that are not frames we act on."""
    if not is_printable_ascii(line):
        return Frame.garbled("bytes")
    words = line.decode("ascii").split()
    if not words:
        return None
    ident, rest = words[0], words[1:]
    if ident in _ERRORS and not rest:
        return Frame(FrameKind.REJECTED, Status.ERROR, tag=ident)
    if ident in _SKIPPED_IDS:
        return None
    if ident in _ACK_IDS and rest and len(rest[0]) == 1:
        return Frame(FrameKind.ACK, Status.OK, tag=f"{ident} {rest[0]}")
    if ident != "S" or not rest:
        return Frame.garbled(f"line {ident!r}")
    flag, tag = rest[0], f"S {rest[0]}"
    if len(rest) == 1:
        if flag == "+":
            return Frame(FrameKind.READING, Status.OVER_CAPACITY, tag=tag)
        if flag == "-":
            return Frame(FrameKind.READING, Status.UNDER_ZERO, tag=tag)
        if flag == "I":
            return Frame(FrameKind.READING, Status.ERROR, tag=tag)
        return Frame.garbled(tag)
    if flag not in ("S", "D") or len(rest) != 3:
        return Frame.garbled(tag)
    value, unit = rest[1], rest[2]
    motion = flag == "D"
    grams = to_grams(value, unit)
    if grams is None:
        if unit in ("lb", "oz", "ozt", "ct"):
            return Frame(FrameKind.READING, Status.ERROR, motion=motion, tag=f"{tag} unit {unit}")
        return Frame.garbled(f"{tag} weight")
    if grams < 0:
        return Frame(FrameKind.READING, Status.UNDER_ZERO, motion=motion, tag=tag)
    return Frame(FrameKind.READING, status_of(motion=motion), grams, motion=motion, tag=tag)


class MtSicsParser(FrameParser):
    def __init__(self) -> None:
        self._line = bytearray()
        self._skipping = False  # after an overlong line, until its end

    def reset(self) -> None:
        self._line.clear()
        self._skipping = False

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        for byte in data:
            if byte == LF:
                if not self._skipping:
                    frame = decode_line(bytes(self._line.rstrip(b"\r")))
                    if frame is not None:
                        frames.append(frame)
                self._line.clear()
                self._skipping = False
            elif not self._skipping:
                self._line.append(byte)
                if len(self._line) > MAX_LINE:
                    frames.append(Frame.garbled("overlong"))
                    self._line.clear()
                    self._skipping = True
        return frames


def weight_line(indication: Indication, stable_only: bool = False) -> bytes:
    ind = indication
    if ind.over_capacity:
        return b"S +\r\n"
    if ind.under_zero or ind.weight_g < 0 or ind.zero_error:
        return b"S -\r\n"
    if ind.motion and stable_only:
        return b"S I\r\n"  # a real balance waits for stability first, then times out like this
    flag = "D" if ind.motion else "S"
    return f"S {flag} {kg_text(ind.weight_g, 10)} kg\r\n".encode("ascii")


class MtSicsDevice(DeviceSide):
    def __init__(self) -> None:
        self._line = bytearray()

    def feed(self, data: bytes) -> list[str]:
        requests: list[str] = []
        for byte in data:
            if byte == LF:
                requests.append(self._line.rstrip(b"\r").decode("ascii", "replace").strip())
                self._line.clear()
            elif len(self._line) < MAX_LINE:
                self._line.append(byte)
        return requests

    def respond(self, request: str, scale: Weighable) -> bytes:
        if request == "SI":
            return weight_line(scale.indication())
        if request == "S":
            return weight_line(scale.indication(), stable_only=True)
        if request in ("Z", "ZI"):
            outcome = scale.zero()
            code = {"ok": "A", "above_range": "+", "below_range": "-"}.get(outcome, "I")
            return f"{request} {code}\r\n".encode("ascii")
        if request == "T":
            outcome = scale.tare()
            if outcome == "ok":
                return f"T S {kg_text(scale.tare_g, 10)} kg\r\n".encode("ascii")
            return b"T I\r\n" if outcome == "busy" else b"T +\r\n"
        if request == "TAC":
            return b"TAC A\r\n" if scale.clear_tare() == "ok" else b"TAC I\r\n"
        if request == "@":
            return b'I4 A "KIOSK-SIM"\r\n'
        return b"ES\r\n"


class MtSics(ScaleProtocol):
    name = "mtsics"
    title = "Mettler Toledo MT-SICS"
    settings = SerialSettings(9600, 8, "N", 1)
    reply_timeout_s = 1.0
    command_timeout_s = 5.0  # Z and T wait for stability on the balance

    requests = {Command.WEIGH: b"SI\r\n", Command.ZERO: b"Z\r\n", Command.TARE: b"T\r\n",
                Command.CLEAR_TARE: b"TAC\r\n"}
    _ACCEPTED = {Command.ZERO: {"Z A"}, Command.TARE: {"T S"}, Command.CLEAR_TARE: {"TAC A"}}


    def parser(self) -> MtSicsParser:
        return MtSicsParser()

    def accepted(self, command: Command, frame: Frame) -> bool:
        if command is Command.WEIGH:
            return frame.kind is FrameKind.READING
        return frame.kind is FrameKind.ACK and frame.tag in self._ACCEPTED[command]

    def device(self) -> MtSicsDevice:
        return MtSicsDevice()
