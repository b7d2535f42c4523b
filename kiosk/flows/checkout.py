"""The checkout flow: one shopper's session from the attract screen to the receipt.

Pure: ``CheckoutFlow.handle(event)`` takes one event (a device event from ``kiosk.events`` or an
intent from ``kiosk.flows.events``) and returns the effects to carry out, in order; the new state
is ``flow.state``. Time comes from the injected clock, lookups from the injected catalog, ids from
the injected id source, so every path (timeouts included) is testable without sleeping or I/O.

Interventions come in two kinds. Blocking ones (weight mismatch, unexpected item, item removed,
void request, payment failed, device fault) stop the lane in ``NEEDS_ATTENDANT`` until an
attendant clears them. Non-blocking ones (age check, help) let the shopper keep scanning and
only hold payment, so a shopper is never left waiting on the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from kiosk import barcodes
from kiosk.catalog import Item
from kiosk.config import Config
from kiosk.coupons import parse_coupon
from kiosk.events import DeviceState, ScaleRole, Scanned, WeightReading
from kiosk.flows import events as ev
from kiosk.flows.bagging import Bagging
from kiosk.flows.effects import (
    Alert,
    CancelPaymentOrder,
    CommitSale,
    Effect,
    Emit,
    PrintReceipt,
    RecordEvent,
    SetLight,
    Sound,
    StartPayment,
)
from kiosk.money import Money, weighed_amount
from kiosk.sale import Cart, Payment, Sale, SaleLine, split_by_rate
from kiosk.staff import StaffRoster


class Mode(StrEnum):
    CLOSED = "closed"
    ATTRACT = "attract"
    SHOPPING = "shopping"
    PRODUCE = "produce"
    NEEDS_ATTENDANT = "needs_attendant"
    PAYMENT_SELECTION = "payment_selection"
    AWAITING_PAYMENT = "awaiting_payment"
    RECEIPT = "receipt"
    FEEDBACK = "feedback"
    STAFF = "staff"


BLOCKING = frozenset({"weight_mismatch", "unexpected_item", "item_removed", "void_request",
                      "payment_failed", "device_fault"})
MAX_PAYMENT_FAILURES = 3
MAX_PIN_FAILURES = 5  # wrong PINs for one badge within PIN_LOCKOUT_S lock that badge out
PIN_LOCKOUT_S = 300
IN_SESSION = frozenset({Mode.SHOPPING, Mode.PRODUCE, Mode.NEEDS_ATTENDANT, Mode.PAYMENT_SELECTION,
                        Mode.AWAITING_PAYMENT, Mode.STAFF})


class CatalogView(Protocol):
    def by_gtin(self, gtin: str) -> Item | None: ...
    def by_plu(self, plu: str) -> Item | None: ...


@dataclass(frozen=True, slots=True)
class Intervention:
    reason: str
    line_no: int | None = None
    detail: str = ""

    @property
    def blocking(self) -> bool:
        return self.reason in BLOCKING


@dataclass(frozen=True, slots=True)
class PendingPayment:
    order_id: str
    method: str
    amount: Money
    started_at: datetime


@dataclass(frozen=True)
class CheckoutState:
    mode: Mode = Mode.ATTRACT
    language: str = "zh"
    sale_id: str | None = None
    started_at: datetime | None = None
    cart: Cart = Cart()
    coupons: tuple[str, ...] = ()
    member_id: str | None = None
    interventions: tuple[Intervention, ...] = ()
    produce_item: Item | None = None
    produce_reading: WeightReading | None = None
    last_produce_reading: WeightReading | None = None  # the scale's latest word, in any mode
    last_activity: datetime | None = None
    idle_prompted: bool = False
    payment: PendingPayment | None = None
    payments: tuple[Payment, ...] = ()
    orders: tuple[PendingPayment, ...] = ()  # every payment order of this session
    failed_payments: int = 0
    last_sale: Sale | None = None
    unstored_sale: Sale | None = None  # paid, but the store failed: held until an attendant clears it
    receipt_done: bool = False
    mode_since: datetime | None = None
    resume_mode: Mode = Mode.SHOPPING
    staff_id: str | None = None
    pin_for: str | None = None
    attendants: tuple[str, ...] = ()
    locked: bool = False
    lock_pending: bool = False
    bagging: Bagging = Bagging()
    devices: dict[str, str] = field(default_factory=dict)

    @property
    def priced_cart(self) -> Cart:
        """The cart with the coupons' discount lines, as it will be paid."""
        cart = self.cart
        for code in self.coupons:
            coupon = parse_coupon(code)
            if coupon is None:
                continue
            for rate, part in split_by_rate(coupon.discount(cart.total), cart.item_lines):
                cart, _ = cart.add_discount(coupon.code, coupon.name_zh, coupon.name_en, part, rate)
        return cart

    @property
    def blocking(self) -> bool:
        return any(i.blocking for i in self.interventions)


class CheckoutFlow:
    """The state machine. One instance per lane, driven by the single core thread."""

    def __init__(self, config: Config, catalog: CatalogView, clock: Callable[[], datetime],
                 new_id: Callable[[str], str], roster: StaffRoster, *, scanned_pins: bool = False) -> None:
        self.config = config
        self.scanned_pins = scanned_pins  # accept "BADGE:PIN" from a scanned code (simulation only)
        self._pin_failures: dict[str, list[datetime]] = {}
        self.catalog = catalog
        self.clock = clock
        self.new_id = new_id
        self.roster = roster
        now = clock()
        self.state = CheckoutState(language=config.kiosk.language, last_activity=now, mode_since=now,
                                   bagging=Bagging(tolerance_g=config.security.tolerance_g))
        self._out: list[Effect] = []
        self._light = "off"
        self._alerting = False

    # ------------------------------------------------------------------ dispatch

    def handle(self, event: object) -> list[Effect]:
        self._out = []
        handler = getattr(self, "_on_" + type(event).__name__, None)
        if handler is None:
            self._emit("event.ignored", type=type(event).__name__, mode=str(self.state.mode))
        else:
            handler(event)
        self._sync_light_and_alert()
        out, self._out = self._out, []
        return out

    def start_effects(self) -> list[Effect]:
        """Effects for a freshly started lane: the lane light."""
        self._sync_light_and_alert()
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ helpers

    @property
    def now(self) -> datetime:
        return self.clock()

    def _emit(self, event: str, /, **fields: Any) -> None:
        self._out.append(Emit({"event": event, **fields}))

    def _set(self, **changes: Any) -> None:
        if "mode" in changes and changes["mode"] != self.state.mode:
            changes.setdefault("mode_since", self.now)
        self.state = replace(self.state, **changes)

    def _touch(self) -> None:
        self._set(last_activity=self.now, idle_prompted=False)

    def _record(self, kind: str, detail: dict[str, Any] | None = None, staff_id: str | None = None,
                publish: bool = True) -> None:
        self._out.append(RecordEvent(kind, detail or {}, sale_id=self.state.sale_id, staff_id=staff_id,
                                     publish=publish))

    def _name(self, line: SaleLine) -> str:
        return line.name(self.state.language)

    def _line_event(self, name: str, line: SaleLine) -> None:
        self._emit(name, line=line.line_no, gtin=line.gtin, plu=line.plu, name=self._name(line),
                   qty=line.qty, weight_kg=None if line.weight_kg is None else float(line.weight_kg),
                   amount=str(line.amount), total=str(self.state.priced_cart.total))

    def _begin_session(self, language: str | None = None) -> None:
        sale_id = self.new_id("sale")
        self._set(mode=Mode.SHOPPING, sale_id=sale_id, started_at=self.now, cart=Cart(), coupons=(),
                  member_id=None, interventions=(), produce_item=None, produce_reading=None,
                  payment=None, payments=(), orders=(), failed_payments=0, receipt_done=False,
                  attendants=(), staff_id=None, pin_for=None, bagging=self.state.bagging.reset(),
                  language=language or self.state.language)
        self._touch()
        self._emit("session.started", sale_id=sale_id, language=self.state.language)

    def _end_session(self, reason: str) -> None:
        """After a sale or an abandoned cart: back to attract, or closed if a lock is waiting.
        ``reason``: completed, abandoned, idle or locked (in the ``session.ended`` event)."""
        if self.state.sale_id is not None:
            self._emit("session.ended", sale_id=self.state.sale_id, reason=reason)
        locked = self.state.lock_pending or self.state.locked
        self._set(mode=Mode.CLOSED if locked else Mode.ATTRACT, sale_id=None, started_at=None,
                  language=self.config.kiosk.language,
                  cart=Cart(), coupons=(), member_id=None, interventions=(), produce_item=None,
                  produce_reading=None, payment=None, payments=(), orders=(), failed_payments=0,
                  staff_id=None, pin_for=None, attendants=(), locked=locked, lock_pending=False)
        if locked:
            self._emit("lane.locked")

    def _ensure_session(self) -> bool:
        """Make sure a shopper session is open for a shopping action; False if the lane cannot take one."""
        mode = self.state.mode
        if mode is Mode.CLOSED:
            self._emit("lane.closed")
            return False
        if mode in (Mode.RECEIPT, Mode.FEEDBACK):
            self._finish_receipt_and_feedback()
            mode = self.state.mode
            if mode is Mode.CLOSED:
                self._emit("lane.closed")
                return False
        if mode is Mode.ATTRACT:
            self._begin_session()
            return True
        if mode is Mode.NEEDS_ATTENDANT:
            self._emit("action.refused", reason="waiting_for_attendant")
            self._out.append(Sound("error"))
            return False
        if mode is Mode.AWAITING_PAYMENT:
            self._emit("action.refused", reason="payment_in_progress")
            return False
        if mode is Mode.STAFF:
            self._emit("action.refused", reason="staff_mode")
            return False
        if mode is Mode.PAYMENT_SELECTION:
            self._set(mode=Mode.SHOPPING)
        return True

    def _raise(self, reason: str, line_no: int | None = None, detail: str = "") -> None:
        if any(i.reason == reason and i.line_no == line_no for i in self.state.interventions):
            return
        intervention = Intervention(reason, line_no, detail)
        if intervention.blocking:
            self._drop_open_payment()
        self._set(interventions=self.state.interventions + (intervention,))
        fields: dict[str, Any] = {"reason": reason}
        if line_no is not None:
            fields["line"] = line_no
        if detail:
            fields["detail"] = detail
        self._emit("intervention.raised", **fields)
        self._record("intervention.raised", fields)
        if intervention.blocking and self.state.mode is not Mode.NEEDS_ATTENDANT:
            resume = self.state.mode if self.state.mode in (Mode.SHOPPING, Mode.PRODUCE,
                                                            Mode.PAYMENT_SELECTION) else Mode.SHOPPING
            self._set(mode=Mode.NEEDS_ATTENDANT, resume_mode=resume)
        self._out.append(Sound("alert"))

    def _sync_light_and_alert(self) -> None:
        s = self.state
        if s.mode is Mode.CLOSED:
            light = "closed"
        elif s.blocking:
            light = "intervention"
        elif s.interventions:
            light = "attention"
        else:
            light = "open"
        if light != self._light:
            self._light = light
            self._out.append(SetLight(light))
        alerting = bool(s.interventions)
        if alerting != self._alerting:
            self._alerting = alerting
            payload = {"reasons": [i.reason for i in s.interventions], "sale_id": s.sale_id,
                       "lane": self.config.kiosk.lane} if alerting else None
            self._out.append(Alert("intervention", payload))

    # ------------------------------------------------------------------ scanning

    def _on_Scanned(self, event: Scanned) -> None:
        result = barcodes.parse_scan(event.text, self.config.barcodes, event.symbology)
        kind = result.kind
        if isinstance(result, barcodes.StaffBadge):
            # A PIN inside a barcode is a demo convenience only: anyone can print one.
            if result.pin is not None and self.scanned_pins:
                self._on_StaffLogin(ev.StaffLogin(result.staff_id, result.pin))
            else:
                self._set(pin_for=result.staff_id)
                self._emit("staff.pin_required", staff_id=result.staff_id)
            return
        if isinstance(result, barcodes.ReceiptToken):
            self._emit("order.lookup", token=result.token)
            return
        if self.state.mode is Mode.STAFF:
            self._emit("action.refused", reason="staff_mode")
            return
        if isinstance(result, barcodes.Member):
            self._on_IdentifyMember(ev.IdentifyMember(result.member_id))
            return
        if isinstance(result, barcodes.Coupon):
            self._on_ApplyCoupon(ev.ApplyCoupon(result.code))
            return
        if not self._ensure_session():
            return
        self._touch()
        if self.state.mode is Mode.PRODUCE:
            self._set(mode=Mode.SHOPPING, produce_item=None, produce_reading=None)
        if isinstance(result, barcodes.Product):
            item = self.catalog.by_gtin(result.gtin)
            if item is None:
                self._not_found(event.text, "unknown_gtin")
                return
            if result.price is not None:
                self._add_line(*self.state.cart.add_priced(item, result.price, result.weight_g, event.text))
            elif result.weight_g is not None and item.weighed:
                self._add_line(*self.state.cart.add_weighed(item, result.weight_g))
            elif item.weighed:
                self._not_found(event.text, "needs_weighing")
            else:
                self._add_each(item)
            return
        if isinstance(result, barcodes.VariableMeasure):
            item = self.catalog.by_plu(result.plu) or self.catalog.by_gtin(result.lookup_gtin)
            if item is None:
                self._not_found(event.text, "unknown_plu")
                return
            if result.price is not None:
                amount = result.price
            elif result.weight_g is not None:
                amount = weighed_amount(item.price, result.weight_g)
            else:
                self._not_found(event.text, "no_value")
                return
            self._add_line(*self.state.cart.add_priced(item, amount, result.weight_g, event.text))
            return
        self._not_found(event.text, getattr(result, "reason", str(kind)))

    def _not_found(self, text: str, reason: str) -> None:
        shown = text if len(text) <= 64 and text.isprintable() else repr(text[:64])
        self._emit("item.not_found", text=shown, reason=reason)
        self._out.append(Sound("error"))

    def _add_each(self, item: Item) -> None:
        try:
            cart, line = self.state.cart.add_item(item)
        except ValueError:  # past the per-line quantity limit
            self._emit("action.refused", reason="quantity_limit", gtin=item.gtin, plu=item.plu)
            return
        self._add_line(cart, line)

    def _add_line(self, cart: Cart, line: SaleLine) -> None:
        merged = self.state.cart.line(line.line_no) is not None
        self._set(cart=cart)
        self._line_event("item.quantity" if merged else "item.added", line)
        self._out.append(Sound("beep"))
        item_weight = None
        if self.config.security.enabled:
            item_weight = self._expected_weight(line)
            tol = self._tolerance(line)
            self._set(bagging=self.state.bagging.expect(line.line_no, item_weight, tol))
        if line.age_min and not merged:
            self._raise("age_check", line.line_no)

    def _expected_weight(self, line: SaleLine) -> int | None:
        if line.weight_g is not None:
            return line.weight_g
        item = self._item_for(line)
        if item is None or item.weight_g is None:
            return None
        return item.weight_g  # one more of this item (merged lines add one at a time)

    def _tolerance(self, line: SaleLine) -> int:
        item = self._item_for(line)
        expected = self._expected_weight(line) or 0
        pct = int(expected * self.config.security.tolerance_pct / 100)
        own = item.weight_tol_g if item is not None and item.weight_tol_g is not None else 0
        return max(own, pct, self.config.security.tolerance_g)

    def _item_for(self, line: SaleLine) -> Item | None:
        if line.gtin:
            return self.catalog.by_gtin(line.gtin)
        if line.plu:
            return self.catalog.by_plu(line.plu)
        return None

    # ------------------------------------------------------------------ produce

    def _on_ChooseProduce(self, event: ev.ChooseProduce) -> None:
        item = self.catalog.by_plu(event.plu)
        if item is None:
            self._not_found(event.plu, "unknown_plu")
            return
        if not self._ensure_session():
            return
        self._touch()
        if not item.weighed:
            self._add_each(item)
            return
        # produce already on the platter counts: the scale posts only changes
        self._set(mode=Mode.PRODUCE, produce_item=item, produce_reading=self.state.last_produce_reading)
        self._emit("produce.selected", plu=item.plu, name=item.name(self.state.language),
                   price_per_kg=str(item.price))

    def _on_WeightReading(self, event: WeightReading) -> None:
        if event.role is ScaleRole.BAGGING:
            self._bagging_reading(event)
            return
        self._set(last_produce_reading=event)
        if self.state.mode is Mode.PRODUCE:
            self._set(produce_reading=event)
            self._emit("produce.weight", weight_kg=None if event.weight_g is None else event.weight_g / 1000,
                       stable=event.stable, status=event.status)

    def _on_ConfirmWeight(self, event: ev.ConfirmWeight) -> None:
        s = self.state
        if s.mode is not Mode.PRODUCE or s.produce_item is None:
            self._emit("action.refused", reason="no_produce_chosen")
            return
        reading, item = s.produce_reading, s.produce_item
        problem = None
        if reading is None:
            problem = "no_weight"
        elif reading.status != "ok":
            problem = reading.status
        elif not reading.stable:
            problem = "motion"
        elif reading.weight_g is None or reading.weight_g <= 0:
            problem = "no_weight"
        elif reading.weight_g > int(self.config.scale.capacity_kg * 1000):
            problem = "over_capacity"
        net = (reading.weight_g or 0) - item.tare_g if reading else 0
        if problem is None and net <= 0:
            problem = "below_tare"
        if problem is not None:
            self._emit("weight.rejected", reason=problem)
            self._out.append(Sound("error"))
            return
        self._touch()
        self._set(mode=Mode.SHOPPING, produce_item=None, produce_reading=None)
        self._add_line(*s.cart.add_weighed(item, net))

    def _on_CancelProduce(self, event: ev.CancelProduce) -> None:
        if self.state.mode is Mode.PRODUCE:
            self._set(mode=Mode.SHOPPING, produce_item=None, produce_reading=None)
            self._touch()

    # ------------------------------------------------------------------ bagging area

    def _bagging_reading(self, event: WeightReading) -> None:
        if not event.stable or event.weight_g is None or event.status != "ok":
            return
        bagging, reason, placed = self.state.bagging.reading(event.weight_g)
        self._set(bagging=bagging)
        if not self.config.security.enabled or self.state.mode not in IN_SESSION:
            return
        for line_no in placed:
            self._emit("item.bagged", line=line_no)
        if reason is not None:
            self._raise(reason, detail=f"{event.weight_g} g on scale, {bagging.expected_now_g()} g expected")
        else:
            self._touch()
            self._resolve_bagging_interventions()

    def _resolve_bagging_interventions(self) -> None:
        """The weight is right again (the shopper fixed it): bagging interventions clear themselves."""
        bagging_reasons = {"weight_mismatch", "unexpected_item", "item_removed"}
        cleared = [i for i in self.state.interventions if i.reason in bagging_reasons]
        if not cleared:
            return
        for i in cleared:
            self._emit("intervention.cleared", reason=i.reason, by="shopper")
            self._record("intervention.cleared", {"reason": i.reason, "by": "shopper"})
        self._set(interventions=tuple(i for i in self.state.interventions if i not in cleared))
        if self.state.mode is Mode.NEEDS_ATTENDANT and not self.state.blocking:
            self._set(mode=self.state.resume_mode)

    # ------------------------------------------------------------------ cart edits

    def _on_SetQuantity(self, event: ev.SetQuantity) -> None:
        s = self.state
        if s.mode not in (Mode.SHOPPING, Mode.PAYMENT_SELECTION) or not s.cart.item_lines:
            self._emit("action.refused", reason="no_line")
            return
        line_no = event.line_no if event.line_no is not None else s.cart.item_lines[-1].line_no
        line = s.cart.line(line_no)
        if line is None:
            self._emit("action.refused", reason="no_line", line=line_no)
            return
        if event.qty < line.qty:  # taking items off needs an attendant, as a void does
            self._emit("action.refused", reason="lower_quantity_needs_void", line=line_no)
            return
        try:
            cart, new = s.cart.set_qty(line_no, event.qty)
        except (KeyError, ValueError) as exc:
            self._emit("action.refused", reason="bad_quantity", line=line_no, detail=str(exc))
            return
        self._touch()
        self._set(cart=cart, mode=Mode.SHOPPING)
        self._line_event("item.quantity", new)
        if self.config.security.enabled and new.qty > line.qty:
            weight = self._expected_weight(line)
            extra = None if weight is None else weight * (new.qty - line.qty)
            self._set(bagging=self.state.bagging.expect(line_no, extra, self._tolerance(line)))

    def _on_RequestVoid(self, event: ev.RequestVoid) -> None:
        line = self.state.cart.line(event.line_no)
        if self.state.mode not in (Mode.SHOPPING, Mode.PAYMENT_SELECTION, Mode.PRODUCE) or line is None:
            self._emit("action.refused", reason="no_line", line=event.line_no)
            return
        self._touch()
        self._raise("void_request", line.line_no)

    def _void(self, line_no: int, by: str) -> None:
        try:
            cart, line = self.state.cart.remove(line_no)
        except KeyError:
            return
        self._set(cart=cart, bagging=self.state.bagging.forget(line_no),
                  interventions=tuple(i for i in self.state.interventions
                                      if not (i.line_no == line_no and i.reason == "age_check")))
        self._emit("item.voided", line=line_no, name=self._name(line), amount=str(line.amount), by=by,
                   total=str(self.state.priced_cart.total))
        self._record("item.voided", {"line": line_no, "gtin": line.gtin, "plu": line.plu,
                                     "amount": str(line.amount)}, staff_id=by)

    # ------------------------------------------------------------------ help, idle, language

    def _on_CallHelp(self, event: object) -> None:
        if self.state.mode in (Mode.CLOSED, Mode.STAFF):
            return
        if self.state.mode in (Mode.ATTRACT, Mode.RECEIPT, Mode.FEEDBACK):
            self._emit("help.requested", mode=str(self.state.mode))
        self._touch()
        self._raise("help")

    _on_HelpButton = _on_CallHelp

    def _on_StillHere(self, event: ev.StillHere) -> None:
        self._touch()

    def _on_Start(self, event: ev.Start) -> None:
        if self.state.mode in (Mode.ATTRACT, Mode.RECEIPT, Mode.FEEDBACK):
            if self.state.mode is not Mode.ATTRACT:
                self._finish_receipt_and_feedback()
            if self.state.mode is Mode.ATTRACT:
                self._begin_session(event.language)
        elif self.state.mode is Mode.CLOSED:
            self._emit("lane.closed")

    def _on_SetLanguage(self, event: ev.SetLanguage) -> None:
        if event.language in ("zh", "en"):
            self._set(language=event.language)
            self._emit("language.changed", language=event.language)

    def _on_Tick(self, event: ev.Tick) -> None:
        s, now, t = self.state, self.now, self.config.timeouts
        since = now - (s.mode_since or now)
        idle = now - (s.last_activity or now)
        if s.mode in (Mode.SHOPPING, Mode.PRODUCE, Mode.PAYMENT_SELECTION):
            if s.cart.is_empty and not s.interventions and idle >= _s(t.idle_prompt_s):
                self._end_session("idle")
            elif not s.idle_prompted and idle >= _s(t.idle_prompt_s):
                self._set(idle_prompted=True)
                self._emit("idle.prompt", seconds_left=t.idle_abandon_s)
            elif s.idle_prompted and idle >= _s(t.idle_prompt_s + t.idle_abandon_s) and not s.interventions:
                self._abandon("idle")
        elif s.mode is Mode.AWAITING_PAYMENT and s.payment and now - s.payment.started_at >= _s(t.payment_s):
            self._out.append(CancelPaymentOrder(s.payment.order_id))
            self._payment_failed(s.payment, "timeout")
        elif s.mode is Mode.RECEIPT and since >= _s(t.receipt_s):
            self._finish_receipt_and_feedback()
        elif s.mode is Mode.FEEDBACK and since >= _s(t.feedback_s):
            self._end_session("completed")
        elif s.mode is Mode.STAFF and idle >= _s(t.staff_s):
            self._leave_staff_mode()

    def _abandon(self, reason: str, by: str | None = None) -> None:
        s = self.state
        detail = {"reason": reason, "items": s.cart.item_count, "total": str(s.priced_cart.total),
                  "lines": [line.to_json() for line in s.cart.lines]}
        self._emit("cart.abandoned", sale_id=s.sale_id, **detail)
        self._record("cart.abandoned", detail, staff_id=by)
        if s.payment is not None:
            self._out.append(CancelPaymentOrder(s.payment.order_id))
        self._end_session("abandoned")

    # ------------------------------------------------------------------ members and coupons

    def _on_IdentifyMember(self, event: ev.IdentifyMember) -> None:
        code = event.code.strip()
        if not self._ensure_session():
            return
        member = barcodes.parse_scan(code, self.config.barcodes)
        if isinstance(member, barcodes.Member):
            member_id = member.member_id
        elif code.isdigit() and len(code) == 11 and code.startswith("1"):
            member_id = code  # the same id a scanned member code carries (without its prefix)
        else:
            self._emit("member.rejected", reason="not_a_member_code")
            return
        self._touch()
        self._set(member_id=member_id)
        self._emit("member.identified", member=_mask(member_id))

    def _on_ApplyCoupon(self, event: ev.ApplyCoupon) -> None:
        coupon = parse_coupon(event.code)
        if not self._ensure_session():
            return
        self._touch()
        if coupon is None or coupon.code not in self.config.coupons.accepted:
            self._emit("coupon.rejected", code=event.code[:40], reason="unknown_coupon")
            return
        if coupon.code in self.state.coupons:
            self._emit("coupon.rejected", code=coupon.code, reason="already_applied")
            return
        if len(self.state.coupons) >= self.config.coupons.max_per_sale:
            self._emit("coupon.rejected", code=coupon.code, reason="one_per_sale"
                       if self.config.coupons.max_per_sale == 1 else "too_many")
            return
        self._set(coupons=self.state.coupons + (coupon.code,))
        self._emit("coupon.accepted", code=coupon.code, name=coupon.name_en if self.state.language == "en"
                   else coupon.name_zh, threshold=str(coupon.threshold),
                   discount=str(self.state.cart.total - self.state.priced_cart.total))

    # ------------------------------------------------------------------ payment

    def _on_GoToPayment(self, event: ev.GoToPayment) -> None:
        if self._payment_blocked():
            return
        self._touch()
        self._set(mode=Mode.PAYMENT_SELECTION)
        self._emit("payment.selecting", total=str(self.state.priced_cart.total),
                   methods=list(self._methods()))

    def _on_BackToShopping(self, event: ev.BackToShopping) -> None:
        if self.state.mode is Mode.PAYMENT_SELECTION:
            self._set(mode=Mode.SHOPPING)
            self._touch()

    def _methods(self) -> tuple[str, ...]:
        methods = tuple(self.config.payments.methods)
        return methods + ("sim",) if self.config.payments.simulated and "sim" not in methods else methods

    def _payment_blocked(self) -> bool:
        s = self.state
        reason = None
        if s.mode not in (Mode.SHOPPING, Mode.PAYMENT_SELECTION, Mode.PRODUCE):
            reason = "not_shopping" if s.mode is not Mode.NEEDS_ATTENDANT else "waiting_for_attendant"
        elif s.cart.is_empty:
            reason = "empty_cart"
        elif s.interventions:
            reason = "attendant_needed"
        elif self.config.security.enabled and s.bagging.awaiting:
            reason = "items_not_bagged"
        if reason:
            self._emit("payment.blocked", reason=reason,
                       interventions=[i.reason for i in s.interventions])
        return reason is not None

    def _on_ChoosePayment(self, event: ev.ChoosePayment) -> None:
        if self._payment_blocked():
            return
        if event.method not in self._methods():
            self._emit("payment.rejected", method=event.method[:20], reason="method_not_offered",
                       methods=list(self._methods()))
            return
        total = self.state.priced_cart.total
        self._touch()
        if total.fen == 0:  # coupons covered everything: nothing to charge
            self._complete(())
            return
        order_id = self.new_id("order")
        pending = PendingPayment(order_id, event.method, total, self.now)
        self._set(mode=Mode.AWAITING_PAYMENT, payment=pending, orders=self.state.orders + (pending,))
        self._emit("payment.started", order_id=order_id, method=event.method, amount=str(total))
        subject = f"{self.config.kiosk.store} {self.state.cart.item_count}"
        self._out.append(StartPayment(order_id, event.method, total, subject))

    def _on_CancelPayment(self, event: ev.CancelPayment) -> None:
        s = self.state
        if s.mode is Mode.AWAITING_PAYMENT and s.payment:
            self._out.append(CancelPaymentOrder(s.payment.order_id))
            self._set(mode=Mode.PAYMENT_SELECTION, payment=None)
            self._touch()
            self._emit("payment.cancelled", order_id=s.payment.order_id)

    def _on_PaymentResult(self, event: ev.PaymentResult) -> None:
        s = self.state
        pending = s.payment
        if pending is None or event.order_id != pending.order_id:
            self._late_result(event)
            return
        if event.status == "paid":
            if event.amount_fen is not None and event.amount_fen != pending.amount.fen:
                self._set(mode=Mode.PAYMENT_SELECTION, payment=None)
                self._orphaned(event, "amount_mismatch", expected=pending.amount)
                return
            payment = Payment(pending.method, pending.amount, "paid", event.reference)
            self._emit("payment.paid", order_id=pending.order_id, method=pending.method,
                       amount=str(pending.amount))
            self._complete(s.payments + (payment,))
        elif event.status in ("declined", "timeout", "cancelled"):
            self._payment_failed(pending, event.status, event.reference)
        else:
            self._emit("payment.ignored", order_id=event.order_id[:64], status=event.status[:20])

    def _late_result(self, event: ev.PaymentResult) -> None:
        """A verdict for an order that is not the one open now (cancelled, timed out, another session)."""
        s = self.state
        order = next((o for o in s.orders if o.order_id == event.order_id), None)
        if event.status != "paid":
            self._emit("payment.ignored", order_id=event.order_id[:64], status=event.status[:20])
            return
        amount_ok = event.amount_fen is None or (order is not None and event.amount_fen == order.amount.fen)
        if (order is not None and amount_ok and s.payment is None and order.amount == s.priced_cart.total
                and s.mode in (Mode.SHOPPING, Mode.PAYMENT_SELECTION)):
            # Paid just as the shopper cancelled, and the basket is as it was: the sale completes.
            payment = Payment(order.method, order.amount, "paid", event.reference)
            self._emit("payment.paid", order_id=order.order_id, method=order.method, amount=str(order.amount))
            self._complete(s.payments + (payment,))
            return
        # Money arrived that no sale matches: an attendant refunds it (never a sale for a changed basket).
        self._orphaned(event, "late_payment" if order is not None else "unknown_order",
                       expected=order.amount if order is not None else None)

    def _orphaned(self, event: ev.PaymentResult, reason: str, expected: Money | None) -> None:
        detail: dict[str, Any] = {"order_id": event.order_id[:64], "reason": reason, "paid_fen": event.amount_fen,
                                  "reference": (event.reference or "")[:80]}
        if expected is not None:
            detail["expected_fen"] = expected.fen
        self._emit("payment.orphaned", **detail)
        self._record("payment.orphaned", detail)
        if reason != "unknown_order" and self.state.mode in IN_SESSION:
            self._raise("payment_failed", detail=reason)  # this shopper's money: the attendant sorts it out
        else:
            self._out.append(Alert("payment_orphaned", {**detail, "lane": self.config.kiosk.lane}))

    def _drop_open_payment(self) -> None:
        """Leaving the payment screen for anything else cancels the order: an order stays open only
        while the basket it was made for cannot change."""
        s = self.state
        if s.payment is not None:
            self._out.append(CancelPaymentOrder(s.payment.order_id))
            self._emit("payment.cancelled", order_id=s.payment.order_id)
            self._set(payment=None, mode=Mode.PAYMENT_SELECTION if s.mode is Mode.AWAITING_PAYMENT else s.mode)
    def _payment_failed(self, pending: PendingPayment, status: str, reference: str | None = None) -> None:
        failed = self.state.failed_payments + 1
        attempt = Payment(pending.method, pending.amount, status if status != "cancelled" else "cancelled",
                          reference)
        self._set(mode=Mode.PAYMENT_SELECTION, payment=None, failed_payments=failed,
                  payments=self.state.payments + (attempt,))
        self._touch()
        self._emit("payment.declined", order_id=pending.order_id, method=pending.method, status=status,
                   attempts=failed)
        self._out.append(Sound("error"))
        if failed >= MAX_PAYMENT_FAILURES:
            self._raise("payment_failed", detail=f"{failed} failed attempts")

    def _complete(self, payments: tuple[Payment, ...]) -> None:
        s = self.state
        paid = sum((p.amount for p in payments if p.status == "paid"), Money(0))
        if s.sale_id is None or s.started_at is None or paid != s.priced_cart.total:
            # Never a sale whose payments do not add up to its total (DESIGN 5).
            self._emit("payment.mismatch", expected=str(s.priced_cart.total), paid=str(paid))
            self._record("payment.mismatch", {"expected_fen": s.priced_cart.total.fen, "paid_fen": paid.fen})
            self._set(payment=None, mode=Mode.PAYMENT_SELECTION if s.sale_id else Mode.ATTRACT)
            if s.sale_id is not None:
                self._raise("payment_failed", detail="amount_mismatch")
            return
        sale = Sale(sale_id=s.sale_id, kiosk_id=self.config.kiosk.id, store=self.config.kiosk.store,
                    lane=self.config.kiosk.lane, started_at=s.started_at, completed_at=self.now,
                    lines=s.priced_cart.lines, payments=payments, receipt_token=self.new_id("receipt"),
                    member_id=s.member_id, currency=self.config.kiosk.currency,
                    attendants=s.attendants)
        self._out.append(CommitSale(sale))
        self._out.append(Emit(sale.to_event()))
        self._set(mode=Mode.RECEIPT, last_sale=sale, payment=None, receipt_done=False)

    def _on_SaleNotStored(self, event: ev.SaleNotStored) -> None:
        """The store could not commit a paid sale: nothing may say it is done (no receipt) until an
        attendant has fixed the cause; clearing the fault commits it again."""
        sale = self.state.last_sale
        if sale is None or sale.sale_id != event.sale_id:
            return
        self._set(unstored_sale=sale)
        self._raise("device_fault", detail=f"sale_not_stored: {event.reason}"[:120])
        self._set(mode=Mode.NEEDS_ATTENDANT, resume_mode=Mode.RECEIPT)

    # ------------------------------------------------------------------ receipt and feedback

    def _on_ChooseReceipt(self, event: ev.ChooseReceipt) -> None:
        if self.state.mode is not Mode.RECEIPT or self.state.last_sale is None:
            self._emit("action.refused", reason="no_receipt")
            return
        self._receipt(event.choice)
        self._set(mode=Mode.FEEDBACK)

    def _receipt(self, choice: str) -> None:
        sale = self.state.last_sale
        if sale is None or self.state.receipt_done:
            return
        self._set(receipt_done=True)
        printer = self.state.devices.get("printer", "ok")
        if choice == "print" and printer == "fault":
            self._emit("receipt.unavailable", sale_id=sale.sale_id, token=sale.receipt_token)
            choice = "qr"
        if choice == "print":
            self._out.append(PrintReceipt(sale, job_id=f"{sale.sale_id}/receipt"))
            self._emit("receipt.printed", sale_id=sale.sale_id)
        elif choice == "qr":
            self._emit("receipt.qr", sale_id=sale.sale_id, token=sale.receipt_token)
        else:
            self._emit("receipt.skipped", sale_id=sale.sale_id)

    def _finish_receipt_and_feedback(self) -> None:
        """Next shopper (or timeout): print by default if nobody chose, then end the session."""
        if self.state.mode is Mode.RECEIPT:
            self._receipt("print")
        self._end_session("completed")

    def _on_GiveFeedback(self, event: ev.GiveFeedback) -> None:
        s = self.state
        if s.mode not in (Mode.RECEIPT, Mode.FEEDBACK) or s.last_sale is None:
            self._emit("action.refused", reason="no_sale")
            return
        if not 1 <= event.score <= 5:
            self._emit("action.refused", reason="bad_score")
            return
        detail = {"score": event.score, "comment": event.comment[:500], "sale_id": s.last_sale.sale_id}
        self._emit("feedback.received", **detail)
        self._out.append(RecordEvent("feedback", detail, sale_id=s.last_sale.sale_id))
        if s.mode is Mode.RECEIPT:
            self._receipt("print")
        self._end_session("completed")

    # ------------------------------------------------------------------ attendants

    def _on_StaffLogin(self, event: ev.StaffLogin) -> None:
        staff_id = event.staff_id[:16]
        window = self.now - _s(PIN_LOCKOUT_S)
        failures = [t for t in self._pin_failures.get(staff_id, []) if t > window]
        locked_out = len(failures) >= MAX_PIN_FAILURES
        account = None if locked_out else self.roster.authenticate(event.staff_id, event.pin)
        self._set(pin_for=None)
        if account is None:
            if not locked_out:
                failures.append(self.now)
            self._pin_failures[staff_id] = failures
            reason = "locked_out" if locked_out else "wrong_pin"
            self._emit("staff.denied", staff_id=staff_id, reason=reason)
            self._out.append(RecordEvent("staff.denied", {"staff_id": staff_id, "reason": reason},
                                         sale_id=self.state.sale_id))
            self._out.append(Sound("error"))
            return
        self._pin_failures.pop(staff_id, None)
        self._emit("staff.login", staff_id=account.id, role=account.role)
        if self.state.interventions:
            self._approve_all(account.id)
        elif self.state.mode is not Mode.STAFF:
            self._drop_open_payment()
            self._set(resume_mode=self.state.mode, mode=Mode.STAFF, staff_id=account.id)
            self._touch()
            self._emit("staff.mode", staff_id=account.id)

    def _approve_all(self, staff_id: str) -> None:
        for i in self.state.interventions:
            if i.reason == "void_request" and i.line_no is not None:
                self._void(i.line_no, staff_id)
            if i.reason in ("weight_mismatch", "unexpected_item", "item_removed"):
                self._set(bagging=self.state.bagging.accept_current())  # the attendant saw the bag
            if i.reason == "payment_failed":
                self._set(failed_payments=0)
            if i.reason == "device_fault" and self.state.unstored_sale is not None:
                sale = self.state.unstored_sale
                self._out.append(CommitSale(sale))  # again; a second failure comes back here
                self._out.append(Emit(sale.to_event()))
                self._set(unstored_sale=None)
            fields: dict[str, Any] = {"reason": i.reason, "by": staff_id}
            if i.line_no is not None:
                fields["line"] = i.line_no
            self._emit("intervention.cleared", **fields)
            self._record("intervention.cleared", fields, staff_id=staff_id)
        attendants = self.state.attendants + (() if staff_id in self.state.attendants else (staff_id,))
        mode = self.state.resume_mode if self.state.mode is Mode.NEEDS_ATTENDANT else self.state.mode
        self._set(interventions=(), attendants=attendants, mode=mode)
        self._touch()
        self._recheck_bag()

    def _recheck_bag(self) -> None:
        """After a void the bag must lose that item's weight: check the scale as it stands now."""
        if not self.config.security.enabled or self.state.mode not in IN_SESSION:
            return
        bagging, reason, _ = self.state.bagging.reading(self.state.bagging.last_g)
        if reason is not None:
            self._raise(reason, detail=f"{bagging.last_g} g on scale, {bagging.expected_now_g()} g expected")

    def _on_StaffAction(self, event: ev.StaffAction) -> None:
        s = self.state
        if s.mode is not Mode.STAFF or s.staff_id is None:
            self._emit("action.refused", reason="not_staff_mode")
            return
        self._touch()
        if event.action == "void" and event.line_no is not None and s.cart.line(event.line_no):
            self._void(event.line_no, s.staff_id)
            if self.config.security.enabled:
                self._emit("bagging.remove", line=event.line_no)  # checked when staff mode ends
        elif event.action == "cancel_sale" and s.resume_mode in IN_SESSION:
            self._abandon("staff_cancel", by=s.staff_id)
        elif event.action == "lock":
            self._record("lane.locked", {"by": s.staff_id}, staff_id=s.staff_id)
            self._set(lock_pending=True) if s.cart.item_lines else self._lock_now()
            if s.cart.item_lines:
                self._leave_staff_mode()
        elif event.action == "unlock":
            resume = Mode.ATTRACT if s.resume_mode is Mode.CLOSED else s.resume_mode
            self._set(locked=False, lock_pending=False, resume_mode=resume)
            self._record("lane.unlocked", {"by": s.staff_id}, staff_id=s.staff_id)
            self._emit("lane.unlocked", by=s.staff_id)
            self._leave_staff_mode()
        elif event.action == "exit":
            self._leave_staff_mode()
        else:
            self._emit("action.refused", reason="unknown_staff_action", action=event.action[:32])

    def _lock_now(self) -> None:
        self._set(locked=True, lock_pending=False, resume_mode=Mode.CLOSED)
        self._end_session("locked")

    def _leave_staff_mode(self) -> None:
        s = self.state
        if s.mode is Mode.STAFF:
            target = s.resume_mode
            if target is Mode.STAFF or (target in IN_SESSION and s.sale_id is None):
                target = Mode.ATTRACT
            if s.locked:
                target = Mode.CLOSED
            self._set(mode=target, staff_id=None)
            self._emit("staff.exit")
            self._recheck_bag()

    def _on_RemoteLock(self, event: ev.RemoteLock) -> None:
        s = self.state
        if event.locked:
            self._record("lane.locked", {"by": event.by, "reason": event.reason})
            if s.mode in IN_SESSION and s.cart.item_lines:
                self._set(lock_pending=True)
                self._emit("lane.lock_pending", by=event.by)
            elif s.mode in (Mode.RECEIPT, Mode.FEEDBACK):  # the shopper still gets the receipt
                self._set(lock_pending=True)
                self._finish_receipt_and_feedback()
            else:
                self._set(locked=True, lock_pending=False)
                self._end_session("locked")
        else:
            self._record("lane.unlocked", {"by": event.by})
            was_closed = s.mode is Mode.CLOSED
            self._set(locked=False, lock_pending=False)
            if was_closed:
                self._set(mode=Mode.ATTRACT)
            if s.resume_mode is Mode.CLOSED:  # an attendant in staff mode returns to an open lane
                self._set(resume_mode=Mode.ATTRACT)
            self._emit("lane.unlocked", by=event.by)

    # ------------------------------------------------------------------ devices

    def _on_DeviceState(self, event: DeviceState) -> None:
        previous = self.state.devices.get(event.device)
        self._set(devices={**self.state.devices, event.device: event.state})
        if previous == event.state and event.state == "ok":
            return
        self._emit("device.state", device=event.device, state=event.state, reason=event.reason)
        payload = None if event.state == "ok" else {"device": event.device, "state": event.state,
                                                    "reason": event.reason}
        self._out.append(Alert(event.device, payload))


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _mask(member_id: str) -> str:
    """Never show or log a whole member phone number."""
    if len(member_id) <= 5:
        return member_id
    return member_id[:3] + "*" * (len(member_id) - 7) + member_id[-4:] if len(member_id) > 7 else member_id[:2] + "***"
