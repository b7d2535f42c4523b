"""What shoppers, attendants, the clock and the payment provider tell the checkout flow.

Device events (scans, weights, device states, the help button) come from ``kiosk.events``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed (the injected clock moved); lets the flow fire its timeouts."""


@dataclass(frozen=True, slots=True)
class Start:
    """The shopper touched the attract screen (scanning an item also starts a session)."""

    language: str | None = None


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str  # zh | en


@dataclass(frozen=True, slots=True)
class ChooseProduce:
    """The shopper picked a produce item (by PLU) to weigh."""

    plu: str


@dataclass(frozen=True, slots=True)
class ConfirmWeight:
    """The shopper accepted the weight shown for the chosen produce item."""


@dataclass(frozen=True, slots=True)
class CancelProduce:
    pass


@dataclass(frozen=True, slots=True)
class SetQuantity:
    qty: int
    line_no: int | None = None  # None = the last line


@dataclass(frozen=True, slots=True)
class RequestVoid:
    line_no: int


@dataclass(frozen=True, slots=True)
class CallHelp:
    pass


@dataclass(frozen=True, slots=True)
class StillHere:
    """The shopper answered "are you still there?"."""


@dataclass(frozen=True, slots=True)
class IdentifyMember:
    code: str  # member code (M...) or phone number


@dataclass(frozen=True, slots=True)
class ApplyCoupon:
    code: str


@dataclass(frozen=True, slots=True)
class GoToPayment:
    pass


@dataclass(frozen=True, slots=True)
class BackToShopping:
    pass


@dataclass(frozen=True, slots=True)
class ChoosePayment:
    method: str  # alipay | wechat | unionpay | emv | sim


@dataclass(frozen=True, slots=True)
class CancelPayment:
    pass


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """The provider's verdict on an order (from its API, the fleet relay or the simulated wallet)."""

    order_id: str
    status: str  # paid | declined | timeout | cancelled
    reference: str | None = None
    amount_fen: int | None = None


@dataclass(frozen=True, slots=True)
class ChooseReceipt:
    choice: str  # print | none | qr


@dataclass(frozen=True, slots=True)
class GiveFeedback:
    score: int  # 1..5
    comment: str = ""


@dataclass(frozen=True, slots=True)
class StaffLogin:
    """An attendant's badge and PIN; approves what is pending, or opens staff mode."""

    staff_id: str
    pin: str


@dataclass(frozen=True, slots=True)
class StaffAction:
    """An action in staff mode: void LINE, cancel_sale, lock, unlock, reject_age, exit."""

    action: str
    line_no: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteLock:
    """The fleet locked (``locked=True``) or unlocked the lane."""

    locked: bool
    by: str = "fleet"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SaleNotStored:
    """The lane could not commit a paid sale (disk full, database damaged)."""

    sale_id: str
    reason: str = ""
