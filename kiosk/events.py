"""Events that devices and networks post into the kiosk's one core queue.

Peripheral threads and network callbacks never touch state: they build one of these values and
call ``post(event)``. The core thread feeds them to the checkout flow in order. The shopper's and
attendant's own intents (taps, staff login) are defined with the flows in ``kiosk.flows.events``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class ScaleRole(StrEnum):
    PRODUCE = "produce"  # legal-for-trade weighing of loose produce
    BAGGING = "bagging"  # security scale under the bagging area


@dataclass(frozen=True, slots=True)
class Scanned:
    """A barcode read, accepted by its source (consensus and re-scan rules already applied)."""

    text: str
    source: str = "camera"  # camera | hid | sim
    symbology: str | None = None  # ean13, ean8, upca, upce, code128, gs1-128, qr, databar ...


@dataclass(frozen=True, slots=True)
class WeightReading:
    """One scale reading. ``weight_g`` is None when the scale gives no valid weight."""

    role: ScaleRole
    weight_g: int | None
    stable: bool
    status: str = "ok"  # ok, motion, over_capacity, under_zero, zero_error, no_answer ...


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device's health changed: ``state`` is ok, warning or fault, with a short reason."""

    device: str  # camera, scanner, scale, bagging_scale, printer, gpio
    state: str  # ok | warning | fault
    reason: str = ""  # e.g. paper_near_end, paper_out, cover_open, offline, unplugged, no_frames


@dataclass(frozen=True, slots=True)
class HelpButton:
    """The physical help button was pressed."""


Post = Callable[[object], None]
