"""What the screens show and what a tap means, without Kivy.

``Presenter.view()`` turns the lane's ``CheckoutState`` (plus the few things only the screen
keeps: the last notice, the payment QR, the offered methods) into a ``View``: every string in
the shopper's language, money as "¥3.50". Each tap is one method that posts one intent to the
lane. The Kivy code only copies a ``View`` into widgets and calls these methods, so all of this
is tested without a window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kiosk.catalog import Item
from kiosk.events import ScaleRole, Scanned, WeightReading
from kiosk.flows import events as ev
from kiosk.flows.checkout import CheckoutState, Mode
from kiosk.money import Money, weighed_amount
from kiosk.sale import LineKind, SaleLine
from kiosk.ui.i18n import TABLES, other_language, t

MAX_WEIGHT_KG = Decimal(1000)


RECEIPT_QR_PREFIX = "KR1:"  # as printed on paper receipts (barcodes.receipt_prefix)


def money(amount: Money) -> str:
    return amount.display("¥")


def kg(weight_g: int) -> str:
    return f"{Decimal(weight_g) / 1000:.3f}"


def parse_kg(text: str) -> int | None:
    """Grams from a typed weight in kg ("0.512", "0,512"); None unless it is a positive number."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > MAX_WEIGHT_KG:
        return None
    grams = int((value * 1000).to_integral_value())
    return grams if grams > 0 else None


@dataclass(frozen=True, slots=True)
class CartRow:
    line_no: int
    name: str
    detail: str  # "2 × ¥3.50", "0.512 kg × ¥6.98/kg", or "" for one piece
    amount: str
    can_add: bool  # a "+1" makes sense (pieces, not weighed or labelled lines)
    is_discount: bool


@dataclass(frozen=True, slots=True)
class Choice:
    """A button in a list: a produce item (``key`` = PLU) or a payment method."""

    key: str
    label: str
    detail: str = ""


@dataclass(frozen=True)
class View:
    screen: str  # a Mode value; the ScreenManager has one screen per mode
    language: str
    labels: Mapping[str, str]  # the fixed strings in ``language``
    notice: str = ""
    cart: tuple[CartRow, ...] = ()
    total: str = ""
    item_count: str = ""
    attention: str = ""  # open interventions, for the banner; "" when none
    blocking: bool = False
    idle_prompted: bool = False
    produce_choices: tuple[Choice, ...] = ()
    produce_title: str = ""
    produce_price: str = ""
    produce_weight: str = ""
    produce_amount: str = ""
    produce_stable: bool = False  # the scale is still and the weight valid: only then can it be added
    amount_due: str = ""
    methods: tuple[Choice, ...] = ()
    awaiting_title: str = ""
    awaiting_amount: str = ""
    qr: str | None = None
    receipt_qr: str | None = None  # shown after the sale when the shopper chose (or got) an e-receipt
    paid: str = ""
    staff_title: str = ""
    staff_prefill: str = ""  # a scanned staff badge waiting for its PIN
    simulate: bool = False

    def label(self, key: str) -> str:
        return self.labels[key]


# Events that answer the shopper: event name -> (i18n key, fields of the event to fill in).
_NOTICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "item.added": ("notice.added", ("name",)),
    "item.quantity": ("notice.quantity", ("name", "qty")),
    "item.voided": ("notice.voided", ("name",)),
    "item.not_found": ("notice.not_found", ("text",)),
    "weight.rejected": ("notice.weight_rejected", ()),
    "payment.declined": ("notice.payment_declined", ()),
    "payment.cancelled": ("notice.payment_cancelled", ()),
    "payment.paid": ("notice.paid", ()),
    "payment.rejected": ("notice.method_not_offered", ()),
    "staff.denied": ("notice.staff_denied", ()),
    "staff.pin_required": ("notice.pin_required", ()),
    "idle.prompt": ("notice.idle", ()),
    "lane.closed": ("notice.lane_closed", ()),
    "coupon.accepted": ("notice.coupon_accepted", ("name",)),
    "coupon.rejected": ("notice.coupon_rejected", ()),
    "member.identified": ("notice.member", ()),
    "member.rejected": ("notice.member_rejected", ()),
    "receipt.unavailable": ("notice.receipt_unavailable", ()),
    "receipt.printed": ("notice.receipt_printed", ()),
}
_BLOCKED = {
    "empty_cart": "notice.empty_cart",
    "attendant_needed": "notice.attendant_needed",
    "waiting_for_attendant": "notice.attendant_needed",
    "items_not_bagged": "notice.items_not_bagged",
}
_REFUSED = {
    "waiting_for_attendant": "notice.attendant_needed",
    "payment_in_progress": "notice.payment_in_progress",
    "lower_quantity_needs_void": "notice.lower_quantity",
}


def notice_for(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The message (i18n key and values) that answers a lane event, or None for a silent one."""
    name = event.get("event")
    if name == "payment.blocked":
        return _BLOCKED.get(str(event.get("reason")), "notice.payment_blocked"), {}
    if name == "action.refused":
        return _REFUSED.get(str(event.get("reason")), "notice.refused"), {}
    if name in _NOTICES:
        key, wanted = _NOTICES[str(name)]
        values = {f: event.get(f, "") for f in wanted}
        if "name" in values and isinstance(event.get("line"), int):
            values["line"] = event["line"]  # to name the item again in another language
        return key, values
    return None


def reason_text(reason: str, language: str) -> str:
    key = f"reason.{reason}"
    return t(key if key in TABLES["zh"] else "reason.other", language)


def method_label(method: str, language: str) -> str:
    key = f"method.{method}"
    return t(key, language) if key in TABLES["zh"] else method


class Presenter:
    """Maps lane state to a ``View`` and taps to intents. Call it from the UI thread only."""

    def __init__(self, post: Callable[[object], None], state: Callable[[], CheckoutState], *,
                 produce: Sequence[Item] = (), methods: Sequence[str] = (), simulate: bool = False,
                 place_weight: Callable[[int], None] | None = None) -> None:
        self._post = post
        self._place_weight = place_weight  # the simulated scale's platter (the reading comes back over serial)
        self._state = state
        self._produce = tuple(produce)
        self._methods = tuple(methods)
        self.simulate = simulate
        self._notice: tuple[str, dict[str, Any]] | None = None
        self._notice_mode: Mode | None = None
        self._qr: dict[str, str] = {}
        self._receipt_qr: dict[str, str] = {}  # sale id -> the e-receipt QR payload
        self.on_notice: Callable[[], None] | None = None  # the screen wants to know at once

    # -- what the lane said -------------------------------------------------------------------

    def observe(self, event: Mapping[str, Any]) -> None:
        """Take note of one lane event (already on the UI thread)."""
        name = event.get("event")
        if name == "payment.qr" and event.get("order_id") and event.get("qr"):
            self._qr = {str(event["order_id"]): str(event["qr"])}
        elif name == "receipt.qr" and event.get("token"):
            self._receipt_qr = {str(event.get("sale_id")): RECEIPT_QR_PREFIX + str(event["token"])}
        elif name == "payment.selecting" and event.get("methods"):
            self._methods = tuple(str(m) for m in event["methods"])
        found = notice_for(event)
        if found is not None:
            self._say(*found)

    def _say(self, key: str, values: dict[str, Any] | None = None) -> None:
        self._notice = (key, values or {})
        self._notice_mode = self._state().mode
        if self.on_notice is not None:
            self.on_notice()

    # -- what the screen shows ----------------------------------------------------------------

    def view(self) -> View:
        s = self._state()
        lang = s.language
        if self._notice is not None and self._notice_mode is not s.mode:
            self._notice = None
        cart = s.priced_cart
        notice = ""
        if self._notice is not None:
            key, values = self._notice
            line = cart.line(values["line"]) if "line" in values else None
            notice = t(key, lang, **(values if line is None else {**values, "name": line.name(lang)}))
        fields: dict[str, Any] = {
            "screen": str(s.mode), "language": lang, "labels": TABLES.get(lang, TABLES["zh"]),
            "notice": notice, "simulate": self.simulate,
            "cart": tuple(self._row(line, lang) for line in cart.lines),
            "total": t("shopping.total", lang, total=money(cart.total)),
            "item_count": t("shopping.items", lang, count=s.cart.item_count),
            "blocking": s.blocking, "idle_prompted": s.idle_prompted,
            "amount_due": t("payment.amount_due", lang, amount=money(cart.total)),
            "methods": tuple(Choice(m, method_label(m, lang)) for m in self._methods),
            "produce_choices": tuple(self._produce_choice(item, lang) for item in
                                     sorted(self._produce, key=lambda i: (i.category, i.name(lang)))),
            "staff_prefill": s.pin_for or "",
        }
        if s.interventions:
            reasons = "、".join(reason_text(i.reason, lang) for i in s.interventions) if lang == "zh" \
                else "; ".join(reason_text(i.reason, lang) for i in s.interventions)
            fields["attention"] = t("shopping.attention", lang, reasons=reasons)
        if s.produce_item is not None:
            fields.update(self._produce_fields(s, lang))
        if s.payment is not None:
            method = method_label(s.payment.method, lang)
            fields["awaiting_title"] = t("awaiting.title", lang, method=method)
            fields["awaiting_amount"] = t("awaiting.amount", lang, amount=money(s.payment.amount))
            fields["qr"] = self._qr.get(s.payment.order_id)
        if s.last_sale is not None:
            fields["paid"] = t("receipt.paid", lang, amount=money(s.last_sale.total))
            fields["receipt_qr"] = self._receipt_qr.get(s.last_sale.sale_id)
        if s.staff_id is not None:
            fields["staff_title"] = t("staff.title", lang, staff=s.staff_id)
        return View(**fields)

    def _row(self, line: SaleLine, lang: str) -> CartRow:
        discount = line.kind is LineKind.DISCOUNT
        if line.weight_g is not None:
            detail = t("cart.weighed", lang, kg=kg(line.weight_g), price=money(line.unit_price))
        elif line.qty != 1:
            detail = t("cart.qty", lang, qty=line.qty, price=money(line.unit_price))
        else:
            detail = ""
        can_add = not discount and line.weight_g is None and line.code is None
        return CartRow(line.line_no, line.name(lang), detail, money(line.amount), can_add, discount)

    @staticmethod
    def _produce_choice(item: Item, lang: str) -> Choice:
        key = "produce.pick_price" if item.weighed else "produce.pick_each"
        return Choice(item.plu or "", item.name(lang), t(key, lang, price=money(item.price)))

    @staticmethod
    def _produce_fields(s: CheckoutState, lang: str) -> dict[str, Any]:
        item, reading = s.produce_item, s.produce_reading
        assert item is not None
        out: dict[str, Any] = {"produce_title": t("produce.title", lang, name=item.name(lang)),
               "produce_price": t("produce.price", lang, price=money(item.price)),
               "produce_weight": t("produce.no_weight", lang), "produce_amount": ""}
        if reading is not None and reading.weight_g is not None and reading.weight_g > 0:
            out["produce_weight"] = t("produce.weight", lang, kg=kg(reading.weight_g))
            out["produce_stable"] = reading.stable and reading.status == "ok"
            if not out["produce_stable"]:
                out["produce_weight"] += " …"
            net = reading.weight_g - item.tare_g
            if net > 0:
                out["produce_amount"] = t("produce.amount", lang, amount=money(weighed_amount(item.price, net)))
        return out

    # -- what a tap means ---------------------------------------------------------------------

    def start(self) -> None:
        self._post(ev.Start())

    def toggle_language(self) -> None:
        self._post(ev.SetLanguage(other_language(self._state().language)))

    def scan(self, text: str) -> bool:
        """The simulated scanner: typed text is posted as a scan, as a decoder would deliver it."""
        text = text.strip()
        if not text:
            return False
        self._post(Scanned(text, source="sim"))
        return True

    def choose_produce(self, plu: str) -> None:
        self._post(ev.ChooseProduce(plu))

    def place_on_scale(self, text: str) -> bool:
        """The simulated produce scale: a typed weight becomes one stable reading."""
        grams = parse_kg(text)
        if grams is None:
            self._say("notice.bad_weight")
            return False
        if self._place_weight is not None:
            self._place_weight(grams)
        else:
            self._post(WeightReading(ScaleRole.PRODUCE, grams, True, "ok"))
        return True

    def confirm_weight(self) -> None:
        self._post(ev.ConfirmWeight())

    def cancel_produce(self) -> None:
        self._post(ev.CancelProduce())

    def add_one(self, line_no: int) -> None:
        line = self._state().cart.line(line_no)
        if line is not None:
            self._post(ev.SetQuantity(line.qty + 1, line_no))

    def request_void(self, line_no: int) -> None:
        self._post(ev.RequestVoid(line_no))

    def call_help(self) -> None:
        self._post(ev.CallHelp())

    def still_here(self) -> None:
        self._post(ev.StillHere())

    def go_to_payment(self) -> None:
        self._post(ev.GoToPayment())

    def back_to_shopping(self) -> None:
        self._post(ev.BackToShopping())

    def choose_payment(self, method: str) -> None:
        self._post(ev.ChoosePayment(method))

    def cancel_payment(self) -> None:
        self._post(ev.CancelPayment())

    def simulate_wallet(self, outcome: str) -> bool:
        """``paid`` or ``declined`` for the order on screen, as the simulated wallet would answer."""
        pending = self._state().payment
        if not self.simulate or pending is None or outcome not in ("paid", "declined"):
            self._say("notice.no_order")
            return False
        if outcome == "paid":
            self._post(ev.PaymentResult(pending.order_id, "paid", reference=f"SIM-{pending.order_id}",
                                        amount_fen=pending.amount.fen))
        else:
            self._post(ev.PaymentResult(pending.order_id, "declined"))
        return True

    def staff_login(self, staff_id: str, pin: str) -> bool:
        staff_id, pin = staff_id.strip().upper(), pin.strip()
        if not staff_id or not pin:
            self._say("notice.staff_denied")
            return False
        self._post(ev.StaffLogin(staff_id, pin))
        return True

    def staff_action(self, action: str) -> None:
        self._post(ev.StaffAction(action))

    def choose_receipt(self, choice: str) -> None:
        self._post(ev.ChooseReceipt(choice))

    def give_feedback(self, score: int) -> None:
        self._post(ev.GiveFeedback(score))
