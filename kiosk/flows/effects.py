"""What the checkout flow asks the outside world to do. The core thread carries these out in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.money import Money
from kiosk.sale import Sale


@dataclass(frozen=True, slots=True)
class Emit:
    """An event for the event log, the simulator's output, the UI and the audit trail (DESIGN 3.2)."""

    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CommitSale:
    """Make the sale durable (sale, lines, payments, outbox row in one transaction) before anything
    tells the shopper it is done."""

    sale: Sale


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """An audit row, and an outbox message for the fleet when ``publish``."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    sale_id: str | None = None
    staff_id: str | None = None
    publish: bool = True


@dataclass(frozen=True, slots=True)
class StartPayment:
    order_id: str
    method: str
    amount: Money
    subject: str


@dataclass(frozen=True, slots=True)
class CancelPaymentOrder:
    order_id: str


@dataclass(frozen=True, slots=True)
class PrintReceipt:
    sale: Sale
    job_id: str


@dataclass(frozen=True, slots=True)
class SetLight:
    pattern: str  # open | attention | intervention | closed | off


@dataclass(frozen=True, slots=True)
class Sound:
    kind: str  # beep | error | alert


@dataclass(frozen=True, slots=True)
class Alert:
    """Raise (payload) or clear (None) a retained fleet alert."""

    name: str
    payload: dict[str, Any] | None


Effect = Emit | CommitSale | RecordEvent | StartPayment | CancelPaymentOrder | PrintReceipt | SetLight | Sound | Alert
