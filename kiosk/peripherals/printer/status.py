"""ESC/POS real-time status (DLE EOT n, n = 1..4): the query bytes and pure decoding.

Every reply is one byte matching ``0xx1xx10`` (bit 1 and bit 4 set, bits 0 and 7 clear). A reply
that does not match, or no reply at all, means the state is unknown: it is never read as "OK".
python-escpos 3.1's ``paper_status()`` gets this wrong (an empty read says "paper adequate"), so
the kiosk asks and decodes on its own.

The same module also *builds* replies, so the printer simulator speaks exactly the bytes a real
printer sends and the decoder is tested against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kiosk.events import DeviceState

DLE_EOT = b"\x10\x04"
QUERIES = (1, 2, 3, 4)
FIXED_MASK = 0b1001_0011  # bits 7, 4, 1, 0
FIXED_VALUE = 0b0001_0010  # 0xx1xx10

# n = 1: printer status
BIT_DRAWER_HIGH = 0x04
BIT_OFFLINE = 0x08
# n = 2: offline cause
BIT_COVER_OPEN = 0x04
BIT_FEED_BUTTON = 0x08
BIT_PAPER_FEED_STOP = 0x20  # printing stopped by paper end
BIT_ERROR = 0x40
# n = 3: error cause
BIT_MODEL_SPECIFIC = 0x04
BIT_AUTOCUTTER_ERROR = 0x08
BIT_UNRECOVERABLE = 0x20
BIT_AUTO_RECOVERABLE = 0x40
# n = 4: roll paper sensor (each condition is reported on two bits)
BITS_NEAR_END = 0x0C
BITS_PAPER_END = 0x60


def query(n: int) -> bytes:
    """The three bytes that ask for real-time status ``n``."""
    if n not in QUERIES:
        raise ValueError(f"DLE EOT n must be 1..4, got {n}")
    return DLE_EOT + bytes([n])


def valid_reply(data: bytes | None) -> int | None:
    """The status byte if ``data`` is exactly one byte of the form ``0xx1xx10``, else None."""
    if data is None or len(data) != 1:
        return None
    value = data[0]
    return value if value & FIXED_MASK == FIXED_VALUE else None


class Health(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAULT = "fault"


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said about itself. ``None`` in a field means "did not say".

    ``replies[n - 1]`` is the valid status byte for DLE EOT n, or None when that query got no
    answer or an answer that is not a status byte. ``readable`` is False for transports that
    cannot read at all (``file:``, ``dummy:``): such a printer is "unknown", never "OK".
    """

    replies: tuple[int | None, int | None, int | None, int | None]
    readable: bool = True
    garbled: bool = False  # something came back that is not a status byte (wrong baud rate?)

    # n = 1
    @property
    def drawer_high(self) -> bool | None:
        return self._bit(1, BIT_DRAWER_HIGH)

    @property
    def offline(self) -> bool | None:
        return self._bit(1, BIT_OFFLINE)

    @property
    def online(self) -> bool | None:
        offline = self.offline
        return None if offline is None else not offline

    # n = 2
    @property
    def cover_open(self) -> bool | None:
        return self._bit(2, BIT_COVER_OPEN)

    @property
    def feed_button(self) -> bool | None:
        """Paper is being fed with the FEED button (the printer is offline meanwhile)."""
        return self._bit(2, BIT_FEED_BUTTON)

    @property
    def paper_feed_stop(self) -> bool | None:
        """Printing stopped because the paper ran out."""
        return self._bit(2, BIT_PAPER_FEED_STOP)

    @property
    def error(self) -> bool | None:
        return self._bit(2, BIT_ERROR)

    # n = 3
    @property
    def model_specific_error(self) -> bool | None:
        return self._bit(3, BIT_MODEL_SPECIFIC)

    @property
    def autocutter_error(self) -> bool | None:
        return self._bit(3, BIT_AUTOCUTTER_ERROR)

    @property
    def unrecoverable_error(self) -> bool | None:
        return self._bit(3, BIT_UNRECOVERABLE)

    @property
    def auto_recoverable_error(self) -> bool | None:
        """E.g. the head is too hot; the printer resumes by itself."""
        return self._bit(3, BIT_AUTO_RECOVERABLE)

    # n = 4. Each condition has two bits; clones sometimes set only one of them, so either bit
    # counts (erring towards an alert rather than towards a blank receipt).
    @property
    def paper_near_end(self) -> bool | None:
        return self._bit(4, BITS_NEAR_END)

    @property
    def paper_end(self) -> bool | None:
        return self._bit(4, BITS_PAPER_END)

    @property
    def answered(self) -> bool:
        return any(r is not None for r in self.replies)

    @property
    def complete(self) -> bool:
        return all(r is not None for r in self.replies)

    def _bit(self, n: int, mask: int) -> bool | None:
        value = self.replies[n - 1]
        return None if value is None else bool(value & mask)

    @property
    def health(self) -> tuple[Health, str]:
        """(ok | warning | fault, reason). The first matching rule wins."""
        if not self.readable:
            return Health.WARNING, "status_unknown"
        if not self.answered:
            return Health.FAULT, "bad_answer" if self.garbled else "no_answer"
        if self.paper_end or self.paper_feed_stop:
            return Health.FAULT, "paper_out"
        if self.cover_open:
            return Health.FAULT, "cover_open"
        if self.autocutter_error:
            return Health.FAULT, "cutter_error"
        if self.unrecoverable_error or self.model_specific_error:
            return Health.FAULT, "printer_error"
        if self.auto_recoverable_error:
            return Health.FAULT, "recoverable_error"
        if self.error:
            return Health.FAULT, "printer_error"
        if self.offline or self.feed_button:
            return Health.FAULT, "offline"
        if not self.complete:
            return Health.FAULT, "bad_answer" if self.garbled else "no_answer"
        if self.paper_near_end:
            return Health.WARNING, "paper_near_end"
        return Health.OK, ""

    @property
    def state(self) -> str:
        return str(self.health[0])

    @property
    def reason(self) -> str:
        return self.health[1]

    @property
    def can_print(self) -> bool:
        return self.health[0] is not Health.FAULT

    def device_state(self, device: str = "printer") -> DeviceState:
        health, reason = self.health
        return DeviceState(device=device, state=str(health), reason=reason)

    def to_json(self) -> dict[str, object]:
        flags = {name: getattr(self, name) for name in FLAG_NAMES}
        return {
            "state": self.state,
            "reason": self.reason,
            "readable": self.readable,
            "garbled": self.garbled,
            "replies": {str(n): (None if r is None else f"0x{r:02x}")
                        for n, r in zip(QUERIES, self.replies, strict=True)},
            **flags,
        }


FLAG_NAMES = (
    "online", "drawer_high", "cover_open", "feed_button", "paper_feed_stop", "error",
    "model_specific_error", "autocutter_error", "unrecoverable_error", "auto_recoverable_error",
    "paper_near_end", "paper_end",
)


def decode(replies: Mapping[int, bytes | None]) -> PrinterStatus:
    """Decode the raw answers to DLE EOT 1..4 (missing keys count as no answer)."""
    values = tuple(valid_reply(replies.get(n)) for n in QUERIES)
    garbled = any(replies.get(n) and v is None for n, v in zip(QUERIES, values, strict=True))
    return PrinterStatus(replies=(values[0], values[1], values[2], values[3]), garbled=garbled)


UNREADABLE = PrinterStatus(replies=(None, None, None, None), readable=False)
NO_ANSWER = PrinterStatus(replies=(None, None, None, None))


@dataclass(frozen=True, slots=True)
class PrinterCondition:
    """A printer's physical condition, as the simulator holds it; ``reply(n)`` gives the byte a
    real printer sends for it (paper out, an open cover and errors also take it offline)."""

    paper: str = "ok"  # ok | near_end | out
    cover_open: bool = False
    feed_button: bool = False
    autocutter_error: bool = False
    unrecoverable_error: bool = False
    auto_recoverable_error: bool = False
    drawer_high: bool = False
    offline: bool = False  # offline for another reason (e.g. the panel switch)

    @property
    def has_error(self) -> bool:
        return self.autocutter_error or self.unrecoverable_error or self.auto_recoverable_error

    @property
    def is_offline(self) -> bool:
        return (self.offline or self.paper == "out" or self.cover_open or self.feed_button
                or self.has_error)

    def reply(self, n: int) -> bytes:
        value = FIXED_VALUE
        if n == 1:
            value |= (BIT_DRAWER_HIGH if self.drawer_high else 0) | (BIT_OFFLINE if self.is_offline else 0)
        elif n == 2:
            value |= ((BIT_COVER_OPEN if self.cover_open else 0)
                      | (BIT_FEED_BUTTON if self.feed_button else 0)
                      | (BIT_PAPER_FEED_STOP if self.paper == "out" else 0)
                      | (BIT_ERROR if self.has_error else 0))
        elif n == 3:
            value |= ((BIT_AUTOCUTTER_ERROR if self.autocutter_error else 0)
                      | (BIT_UNRECOVERABLE if self.unrecoverable_error else 0)
                      | (BIT_AUTO_RECOVERABLE if self.auto_recoverable_error else 0))
        elif n == 4:
            # a roll that has run out has also passed the near-end sensor
            value |= ((BITS_NEAR_END if self.paper in ("near_end", "out") else 0)
                      | (BITS_PAPER_END if self.paper == "out" else 0))
        else:
            raise ValueError(f"DLE EOT n must be 1..4, got {n}")
        return bytes([value])
