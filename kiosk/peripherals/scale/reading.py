"""Plain values shared by every scale protocol: frames, statuses, commands, serial settings.

Weights are whole grams. A protocol's decimal text is converted exactly with ``Decimal``
(never float) and rounded half-even to the gram only when a lab-style scale sends finer digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum


class Status(StrEnum):
    """What a reading says about the weight (the ``status`` of ``WeightReading``)."""

    OK = "ok"
    MOTION = "motion"
    OVER_CAPACITY = "over_capacity"
    UNDER_ZERO = "under_zero"
    ZERO_ERROR = "zero_error"
    NO_ANSWER = "no_answer"
    ERROR = "error"


class FrameKind(StrEnum):
    READING = "reading"  # a weight and/or status report
    ACK = "ack"  # an answer to zero/tare/clear that carries no reading (MT-SICS ``Z A``)
    REJECTED = "rejected"  # the scale did not understand the request (SMA ``?``, MT-SICS ``ES``)
    GARBLED = "garbled"  # framed but malformed: bad characters, parity artefacts, bad length


class Command(StrEnum):
    WEIGH = "weigh"
    ZERO = "zero"
    TARE = "tare"
    CLEAR_TARE = "clear_tare"


WEIGHT_STATUSES = frozenset({Status.OK, Status.MOTION})


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete message from a scale, decoded by a protocol parser.

    ``weight_g`` is set only when the scale gave a usable (non-negative, in-range) weight, that
    is with status ok or motion. ``tag`` is the protocol's own name for the message (``?A``,
    ``S D``, ``Z A``) for logs and for deciding whether a command was accepted.
    """

    kind: FrameKind
    status: Status = Status.ERROR
    weight_g: int | None = None
    motion: bool = False
    net: bool = False
    centre_of_zero: bool = False
    tag: str = ""

    def __post_init__(self) -> None:
        if self.weight_g is not None and (self.status not in WEIGHT_STATUSES or self.weight_g < 0):
            raise ValueError(f"a {self.status} frame cannot carry weight {self.weight_g}")
        if (self.status is Status.OK and self.motion) or (self.status is Status.MOTION and not self.motion):
            raise ValueError(f"status {self.status} contradicts motion={self.motion}")

    @classmethod
    def garbled(cls, tag: str) -> Frame:
        return cls(FrameKind.GARBLED, Status.ERROR, tag=tag)


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Line settings that belong to the protocol, never to a global default (DESIGN 6)."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # N, E, O (pyserial's PARITY_* values)
    stopbits: int = 1

    def __str__(self) -> str:
        return f"{self.baudrate} {self.bytesize}{self.parity}{self.stopbits}"


@dataclass(frozen=True, slots=True)
class Indication:
    """What a scale shows at one moment; the simulator's side of a frame.

    ``weight_g`` is the displayed value (net when ``net``), possibly negative.
    """

    weight_g: int
    net: bool = False
    motion: bool = False
    over_capacity: bool = False
    under_zero: bool = False
    zero_error: bool = False
    centre_of_zero: bool = False


def status_of(*, over: bool = False, under: bool = False, zero_error: bool = False,
              motion: bool = False, error: bool = False) -> Status:
    """The one status that matters most when a scale raises several flags."""
    if error:
        return Status.ERROR
    if over:
        return Status.OVER_CAPACITY
    if under:
        return Status.UNDER_ZERO
    if zero_error:
        return Status.ZERO_ERROR
    if motion:
        return Status.MOTION
    return Status.OK


_NUMBER = re.compile(r"\s*([+-]?)\s*(\d{1,9}(?:\.\d{0,6})?|\.\d{1,6})\s*")
_GRAMS_PER_UNIT = {"kg": Decimal(1000), "g": Decimal(1), "mg": Decimal("0.001")}


def to_grams(text: str, unit: str) -> int | None:
    """``"+  4.876", "kg"`` -> 4876. None when the text is not a plain number or the unit is not
    a metric mass unit (lb and oz are refused rather than converted inexactly)."""
    factor = _GRAMS_PER_UNIT.get(unit.strip().lower())
    match = _NUMBER.fullmatch(text)
    if factor is None or match is None:
        return None
    value = Decimal(match.group(1) + match.group(2)) * factor
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def kg_text(weight_g: int, width: int = 0, plus: bool = False) -> str:
    """Grams as kilograms with three decimals, exact: 4876 -> ``"4.876"``."""
    sign = "-" if weight_g < 0 else ("+" if plus else "")
    whole, frac = divmod(abs(weight_g), 1000)
    return f"{sign}{whole}.{frac:03d}".rjust(width)


def is_printable_ascii(data: bytes) -> bool:
    return all(0x20 <= b < 0x7F for b in data)
