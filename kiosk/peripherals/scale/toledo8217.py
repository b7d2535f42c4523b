"""Mettler Toledo 8217 (the Toledo weight-only ECR protocol), 9600 7E1.

Host sends one letter: ``W`` weigh, ``Z`` zero, ``T`` tare, ``C`` clear tare. The scale answers
``STX WW.WWW [N] CR`` (kg; ``N`` = net) when the weight is stable and in range, otherwise
``STX ? <status> CR``; zero/tare/clear always answer with the status frame.

Status byte: bit 0 motion, 1 over capacity, 2 under zero, 3 outside zero-capture range, 4 centre
of zero, 5 net, 6 always 1, 7 the parity bit (stripped by a 7E1 UART). A byte with bit 7 set
means the port was opened with the wrong framing: such a frame is garbled, never a weight.
Some scales send ``\\x00``/``\\x01`` instead of ``@``/``A``; only bits 0-5 are decoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiosk.peripherals.scale.protocol import DeviceSide, FrameParser, ScaleProtocol, Weighable
from kiosk.peripherals.scale.reading import (
    Command,
    Frame,
    FrameKind,
    Indication,
    SerialSettings,
    Status,
    is_printable_ascii,
    status_of,
    to_grams,
)

STX = 0x02
CR = 0x0D
MAX_BODY = 7  # "?s" or "WW.WWWN"
MAX_KG_G = 99_999  # the 6-character field holds at most 99.999 kg

# The field is always 6 characters (leading zeros, or spaces), so a lost byte shows.
_KG = re.compile(r"(?=[ \d.]{6}N?$) *(\d{1,2}\.\d{3})(N?)")
_LB = re.compile(r"(?=[ \d.]{6}N?$) *(\d{1,3}\.\d{2})(N?)")


@dataclass(frozen=True, slots=True)
class Toledo8217Status:
    motion: bool = False
    over_capacity: bool = False
    under_zero: bool = False
    outside_zero_range: bool = False
    centre_of_zero: bool = False
    net: bool = False

    @classmethod
    def decode(cls, byte: int) -> Toledo8217Status:
        return cls(*(bool(byte >> bit & 1) for bit in range(6)))

    def encode(self) -> int:
        bits = (self.motion, self.over_capacity, self.under_zero, self.outside_zero_range,
                self.centre_of_zero, self.net)
        return 0x40 | sum(1 << i for i, on in enumerate(bits) if on)


def decode_body(body: bytes) -> Frame:
    """Decode what came between STX and CR."""
    if body[:1] == b"?":
        if len(body) != 2:
            return Frame.garbled("status length")
        byte = body[1]
        if byte & 0x80:  # parity bit still there: a 7E1 scale read as 8N1
            return Frame.garbled(f"status 0x{byte:02x}")
        bits = Toledo8217Status.decode(byte)
        status = status_of(over=bits.over_capacity, under=bits.under_zero,
                           zero_error=bits.outside_zero_range, motion=bits.motion)
        return Frame(FrameKind.READING, status, None, motion=bits.motion, net=bits.net,
                     centre_of_zero=bits.centre_of_zero, tag="?" + (chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}"))
    if not is_printable_ascii(body):
        return Frame.garbled("weight bytes")
    text = body.decode("ascii")
    if match := _KG.fullmatch(text):
        grams = to_grams(match.group(1), "kg")
        if grams is None:  # pragma: no cover - the regex admits only numbers
            return Frame.garbled("weight")
        return Frame(FrameKind.READING, Status.OK, grams, net=match.group(2) == "N", tag="weight")
    if _LB.fullmatch(text):
        return Frame(FrameKind.READING, Status.ERROR, tag="weight in lb")  # set the scale to kg
    return Frame.garbled("weight text")


class Toledo8217Parser(FrameParser):
    def __init__(self) -> None:
        self._body: bytearray | None = None  # None while hunting for STX

    def reset(self) -> None:
        self._body = None

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        for byte in data:
            if byte == STX:  # a frame start always wins: drops an interrupted frame
                self._body = bytearray()
            elif self._body is None:
                continue  # garbage between frames
            elif byte == CR:
                frames.append(decode_body(bytes(self._body)))
                self._body = None
            else:
                self._body.append(byte)
                if len(self._body) > MAX_BODY:
                    frames.append(Frame.garbled("overlong"))
                    self._body = None
        return frames


def status_frame(indication: Indication, *, outside_zero_range: bool = False) -> bytes:
    over = indication.over_capacity or indication.weight_g > MAX_KG_G
    bits = Toledo8217Status(
        motion=indication.motion, over_capacity=over,
        under_zero=indication.under_zero or indication.weight_g < 0,
        outside_zero_range=outside_zero_range or indication.zero_error,
        centre_of_zero=indication.centre_of_zero, net=indication.net)
    return bytes([STX, ord("?"), bits.encode(), CR])


def weight_frame(weight_g: int, net: bool = False) -> bytes:
    whole, grams = divmod(weight_g, 1000)
    return b"\x02" + f"{whole:02d}.{grams:03d}".encode() + (b"N" if net else b"") + b"\r"


class Toledo8217Device(DeviceSide):
    def feed(self, data: bytes) -> list[str]:
        # Preset tare digits (``T01234``) are not simulated; the digits are ignored.
        return [chr(b) for b in data if chr(b) in "WZTC"]

    def respond(self, request: str, scale: Weighable) -> bytes:
        if request == "W":
            ind = scale.indication()
            shows_weight = not (ind.motion or ind.over_capacity or ind.under_zero or ind.zero_error)
            if shows_weight and 0 <= ind.weight_g <= MAX_KG_G:
                return weight_frame(ind.weight_g, ind.net)
            return status_frame(ind)
        if request == "Z":
            outcome = scale.zero()
            return status_frame(scale.indication(), outside_zero_range=outcome.endswith("range"))
        if request == "T":
            scale.tare()
            return status_frame(scale.indication())
        if request == "C":
            scale.clear_tare()
            return status_frame(scale.indication())
        return b""


class Toledo8217(ScaleProtocol):
    name = "toledo8217"
    title = "Mettler Toledo 8217"
    settings = SerialSettings(9600, 7, "E", 1)
    reply_timeout_s = 1.0
    command_timeout_s = 2.0

    requests = {Command.WEIGH: b"W", Command.ZERO: b"Z", Command.TARE: b"T",
                Command.CLEAR_TARE: b"C"}

    def parser(self) -> Toledo8217Parser:
        return Toledo8217Parser()

    def accepted(self, command: Command, frame: Frame) -> bool:
        if frame.kind is not FrameKind.READING:
            return False
        if command is Command.ZERO:
            return frame.centre_of_zero and frame.status in (Status.OK, Status.MOTION)
        if command is Command.TARE:
            return frame.net and frame.status in (Status.OK, Status.MOTION)
        if command is Command.CLEAR_TARE:
            return not frame.net and frame.status is not Status.ERROR
        return True

    def device(self) -> Toledo8217Device:
        return Toledo8217Device()
