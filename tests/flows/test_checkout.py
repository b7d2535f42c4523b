"""The checkout flow, driven event by event with a hand-moved clock and a real SQLite catalog."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from kiosk.barcodes import check_digit
from kiosk.catalog import Catalog, Item, Unit, replace_items
from kiosk.clock import SimClock
from kiosk.config import load_config
from kiosk.db import connect
from kiosk.events import DeviceState, HelpButton, ScaleRole, Scanned, WeightReading
from kiosk.flows import effects as fx
from kiosk.flows import events as ev
from kiosk.flows.checkout import CheckoutFlow, Mode
from kiosk.money import Money
from kiosk.staff import DEMO_ACCOUNTS, StaffRoster

COLA = "06901234567892"
CHIPS = "06901234567809"
BEER = "06902222222223"
TISSUE = "06903333333336"


def gtin(body13: str) -> str:
    return "0" + body13[:-1] + check_digit(body13[:-1])


ITEMS = [
    Item(COLA, None, "可口可乐 330ml", "Coca-Cola 330ml", Money(350), Unit.EACH, weight_g=350, weight_tol_g=10),
    Item(gtin("6901234567809"), None, "薯片", "Potato chips", Money(790), Unit.EACH, weight_g=80),
    Item(gtin("6902222222223"), None, "青岛啤酒", "Tsingtao beer", Money(600), Unit.EACH, weight_g=520, age_min=18),
    Item(gtin("6903333333336"), None, "纸巾", "Tissues", Money(1290), Unit.EACH, weight_g=None),
    Item(None, "4011", "香蕉", "Bananas", Money(698), Unit.KG, tax_rate=Decimal("0.09")),
    Item(None, "10001", "猪肉", "Pork", Money(3280), Unit.KG, tax_rate=Decimal("0.09")),
]
CHIPS, BEER, TISSUE = ITEMS[1].gtin, ITEMS[2].gtin, ITEMS[3].gtin


def ean13_label(plu5: str, price_fen: int) -> str:
    body = "20" + plu5 + f"{price_fen:05d}"
    return body + check_digit(body)


class Harness:
    def __init__(self, **overrides):
        base = {"payments": {"simulated": True}, "security": {"enabled": False},
                "coupons": {"accepted": ["C-OFF5", "C-FULL10-2", "C-PCT10"]}}
        for key, value in overrides.items():
            base.setdefault(key, {}).update(value)
        self.config = load_config(None, base)
        self.conn = connect(":memory:")
        replace_items(self.conn, ITEMS)
        self.clock = SimClock()
        counter = iter(range(1, 10_000))
        self.flow = CheckoutFlow(self.config, Catalog(self.conn), self.clock,
                                 lambda kind: f"{kind}-{next(counter)}", StaffRoster(DEMO_ACCOUNTS))
        self.effects: list = []

    def send(self, *events):
        out = []
        for event in events:
            out.extend(self.flow.handle(event))
        self.effects.extend(out)
        return out

    def events(self, name=None, effects=None):
        found = [e.event for e in (effects if effects is not None else self.effects) if isinstance(e, fx.Emit)]
        return [e for e in found if name is None or e["event"] == name]

    @property
    def state(self):
        return self.flow.state

    def wait(self, seconds):
        for _ in range(int(seconds)):
            self.clock.advance(1)
            self.send(ev.Tick())

    def pay(self, method="sim"):
        self.send(ev.ChoosePayment(method))
        order = self.state.payment
        assert order is not None, self.events()[-3:]
        return self.send(ev.PaymentResult(order.order_id, "paid", amount_fen=order.amount.fen))


@pytest.fixture
def h():
    return Harness()


def test_scanning_adds_and_repeat_scans_merge(h):
    h.send(Scanned("6901234567892"))
    assert h.state.mode is Mode.SHOPPING
    h.send(Scanned("6901234567892"))
    assert [(line.gtin, line.qty, line.amount) for line in h.state.cart.lines] == [(COLA, 2, Money(700))]
    assert [e["event"] for e in h.events()] == ["session.started", "item.added", "item.quantity"]


def test_unknown_barcode_says_not_found_and_shopping_goes_on(h):
    h.send(Scanned("6901234567892"), Scanned("4006381333931"), Scanned("garbage\x00\x01"))
    assert [e["reason"] for e in h.events("item.not_found")] == ["unknown_gtin", h.events("item.not_found")[1]["reason"]]
    assert h.state.mode is Mode.SHOPPING and h.state.cart.item_count == 1
    assert not h.state.interventions


def test_produce_weighed_rounds_half_up(h):
    h.send(ev.ChooseProduce("4011"))
    assert h.state.mode is Mode.PRODUCE
    h.send(WeightReading(ScaleRole.PRODUCE, 512, True, "ok"), ev.ConfirmWeight())
    line = h.state.cart.lines[0]
    # 6.98/kg x 0.512 kg = 3.57376 -> 3.57
    assert (line.weight_g, line.amount, line.tax_rate) == (512, Money(357), Decimal("0.09"))
    h.send(ev.ChooseProduce("4011"), WeightReading(ScaleRole.PRODUCE, 512, True, "ok"), ev.ConfirmWeight())
    assert len(h.state.cart.lines) == 2, "weighed items are separate lines"


@pytest.mark.parametrize("reading, reason", [
    (WeightReading(ScaleRole.PRODUCE, 512, False, "motion"), "motion"),
    (WeightReading(ScaleRole.PRODUCE, 512, False, "ok"), "motion"),
    (WeightReading(ScaleRole.PRODUCE, None, False, "over_capacity"), "over_capacity"),
    (WeightReading(ScaleRole.PRODUCE, -20, True, "under_zero"), "under_zero"),
    (WeightReading(ScaleRole.PRODUCE, 0, True, "ok"), "no_weight"),
    (WeightReading(ScaleRole.PRODUCE, 99_000, True, "ok"), "over_capacity"),
])
def test_never_charges_on_a_bad_weight(h, reading, reason):
    h.send(ev.ChooseProduce("4011"), reading, ev.ConfirmWeight())
    assert h.state.cart.is_empty
    assert h.events("weight.rejected")[-1]["reason"] == reason
    assert h.state.mode is Mode.PRODUCE


def test_price_embedded_label(h):
    h.send(Scanned(ean13_label("10001", 1234)))
    line = h.state.cart.lines[0]
    assert (line.plu, line.amount) == ("10001", Money(1234))


def test_age_check_lets_shopper_continue_but_holds_payment(h):
    h.send(Scanned(BEER[1:]))
    assert h.events("intervention.raised")[-1] == {"event": "intervention.raised", "reason": "age_check", "line": 1}
    h.send(Scanned("6901234567892"))
    assert h.state.cart.item_count == 2 and h.state.mode is Mode.SHOPPING
    h.send(ev.ChoosePayment("sim"))
    assert h.events("payment.blocked")[-1]["reason"] == "attendant_needed"
    assert any(isinstance(e, fx.SetLight) and e.pattern == "attention" for e in h.effects)
    h.send(ev.StaffLogin("S0001", "0000"))
    assert h.events("staff.denied") and h.state.interventions
    h.send(ev.StaffLogin("S0001", "2468"))
    assert h.events("intervention.cleared")[-1] == {"event": "intervention.cleared", "reason": "age_check",
                                                    "line": 1, "by": "S0001"}
    h.pay()
    sale = h.events("sale.completed")[-1]
    assert sale["total"] == "9.50"


def test_void_needs_an_attendant(h):
    h.send(Scanned("6901234567892"), Scanned(CHIPS))
    h.send(ev.RequestVoid(2))
    assert h.state.mode is Mode.NEEDS_ATTENDANT
    h.send(Scanned("6901234567892"))
    assert h.events("action.refused")[-1]["reason"] == "waiting_for_attendant"
    assert h.state.cart.item_count == 2
    h.send(ev.StaffLogin("S0002", "1357"))
    assert h.state.mode is Mode.SHOPPING
    assert [line.gtin for line in h.state.cart.lines] == [COLA]
    assert h.events("item.voided")[-1]["by"] == "S0002"
    assert any(isinstance(e, fx.RecordEvent) and e.kind == "item.voided" for e in h.effects)


def test_idle_prompt_then_abandon(h):
    h.send(Scanned("6901234567892"))
    h.wait(59)
    assert not h.events("idle.prompt")
    h.wait(1)
    assert h.events("idle.prompt")
    h.send(ev.StillHere())
    h.wait(60 + 29)
    assert not h.events("cart.abandoned")
    h.wait(1)
    abandoned = h.events("cart.abandoned")[-1]
    assert abandoned["reason"] == "idle" and abandoned["total"] == "3.50"
    assert h.state.mode is Mode.ATTRACT and h.state.cart.is_empty
    assert any(isinstance(e, fx.RecordEvent) and e.kind == "cart.abandoned" for e in h.effects)


def test_declined_then_paid_and_commit_before_announcing(h):
    h.send(Scanned("6901234567892"), ev.ChoosePayment("alipay"))
    order = h.state.payment
    h.send(ev.PaymentResult(order.order_id, "declined"))
    assert h.state.mode is Mode.PAYMENT_SELECTION
    out = h.pay("wechat")
    kinds = [type(e).__name__ for e in out]
    assert kinds.index("CommitSale") < [i for i, e in enumerate(out)
                                        if isinstance(e, fx.Emit) and e.event["event"] == "sale.completed"][0]
    sale = next(e.sale for e in out if isinstance(e, fx.CommitSale))
    assert [(p.method, p.status) for p in sale.payments] == [("alipay", "declined"), ("wechat", "paid")]
    assert h.state.mode is Mode.RECEIPT


def test_three_failed_payments_call_an_attendant(h):
    h.send(Scanned("6901234567892"))
    for _ in range(3):
        h.send(ev.ChoosePayment("sim"))
        h.send(ev.PaymentResult(h.state.payment.order_id, "declined"))
    assert h.state.mode is Mode.NEEDS_ATTENDANT
    assert h.events("intervention.raised")[-1]["reason"] == "payment_failed"


def test_payment_timeout(h):
    h.send(Scanned("6901234567892"), ev.ChoosePayment("sim"))
    h.wait(120)
    assert h.state.mode is Mode.PAYMENT_SELECTION
    assert h.events("payment.declined")[-1]["status"] == "timeout"
    assert any(isinstance(e, fx.CancelPaymentOrder) for e in h.effects)


def test_wrong_amount_paid_is_not_a_sale(h):
    h.send(Scanned("6901234567892"), ev.ChoosePayment("sim"))
    h.send(ev.PaymentResult(h.state.payment.order_id, "paid", amount_fen=1))
    assert not h.events("sale.completed")
    assert h.state.mode is Mode.NEEDS_ATTENDANT


def test_coupon_is_a_negative_line_and_total_never_negative(h):
    h.send(Scanned("6901234567892"), ev.ApplyCoupon("C-OFF5"))
    assert h.state.priced_cart.total == Money(0)
    out = h.send(ev.ChoosePayment("sim"))
    sale = next(e.sale for e in out if isinstance(e, fx.CommitSale))
    assert [line.amount for line in sale.lines] == [Money(350), Money(-350)]
    assert sale.total == Money(0) and sale.payments == ()


def test_full_reduction_coupon_applies_at_threshold(h):
    h.send(ev.ApplyCoupon("C-FULL10-2"), Scanned("6901234567892"))
    assert h.state.priced_cart.total == Money(350)
    h.send(Scanned("6901234567892"), Scanned("6901234567892"))
    assert h.state.priced_cart.total == Money(1050 - 200)


def test_help_button_raises_help_and_staff_clears(h):
    h.send(Scanned("6901234567892"), HelpButton())
    assert h.events("intervention.raised")[-1]["reason"] == "help"
    h.send(ev.StaffLogin("S0001", "2468"))
    assert h.events("intervention.cleared")[-1]["reason"] == "help"
    assert any(isinstance(e, fx.Alert) and e.name == "intervention" and e.payload is None for e in h.effects)


def test_next_scan_after_a_sale_starts_the_next_shopper(h):
    h.send(Scanned("6901234567892"))
    h.pay()
    first = h.state.last_sale.sale_id
    h.send(Scanned("6901234567892"))
    assert h.events("receipt.printed"), "a receipt nobody chose is printed by default"
    assert h.state.sale_id != first and h.state.cart.item_count == 1


def test_printer_fault_offers_e_receipt(h):
    h.send(DeviceState("printer", "fault", "paper_out"), Scanned("6901234567892"))
    h.pay()
    h.send(ev.ChooseReceipt("print"))
    assert h.events("receipt.unavailable") and h.events("receipt.qr")
    assert not any(isinstance(e, fx.PrintReceipt) for e in h.effects)
    assert any(isinstance(e, fx.Alert) and e.name == "printer" and e.payload for e in h.effects)


def test_remote_lock_waits_for_the_shopper_to_finish(h):
    h.send(Scanned("6901234567892"), ev.RemoteLock(True))
    assert h.state.mode is Mode.SHOPPING and h.state.lock_pending
    h.pay()
    h.send(ev.ChooseReceipt("none"), ev.GiveFeedback(5))
    assert h.state.mode is Mode.CLOSED
    h.send(Scanned("6901234567892"))
    assert h.state.cart.is_empty and h.events("lane.closed")
    h.send(ev.RemoteLock(False))
    assert h.state.mode is Mode.ATTRACT


def test_staff_mode_void_and_exit(h):
    h.send(Scanned("6901234567892"), Scanned(CHIPS), ev.StaffLogin("S0001", "2468"))
    assert h.state.mode is Mode.STAFF
    h.send(ev.StaffAction("void", 1), ev.StaffAction("exit"))
    assert h.state.mode is Mode.SHOPPING and [line.gtin for line in h.state.cart.lines] == [CHIPS]


class TestBagging:
    @pytest.fixture
    def b(self):
        return Harness(security={"enabled": True})

    def bag(self, b, grams):
        return b.send(WeightReading(ScaleRole.BAGGING, grams, True, "ok"))

    def test_bagged_items_match(self, b):
        self.bag(b, 0)
        b.send(Scanned("6901234567892"), Scanned(CHIPS))
        b.send(ev.ChoosePayment("sim"))
        assert b.events("payment.blocked")[-1]["reason"] == "items_not_bagged"
        self.bag(b, 348)
        self.bag(b, 430)
        assert [e["line"] for e in b.events("item.bagged")] == [1, 2]
        assert not b.state.interventions
        b.pay()
        assert b.events("sale.completed")

    def test_unexpected_item_then_removed_clears_itself(self, b):
        self.bag(b, 0)
        b.send(Scanned("6901234567892"))
        self.bag(b, 350)
        self.bag(b, 900)
        assert b.events("intervention.raised")[-1]["reason"] == "unexpected_item"
        assert b.state.mode is Mode.NEEDS_ATTENDANT
        self.bag(b, 352)
        assert b.events("intervention.cleared")[-1] == {"event": "intervention.cleared",
                                                        "reason": "unexpected_item", "by": "shopper"}
        assert b.state.mode is Mode.SHOPPING

    def test_item_removed_and_wrong_weight(self, b):
        self.bag(b, 0)
        b.send(Scanned("6901234567892"))
        self.bag(b, 350)
        self.bag(b, 0)
        assert b.events("intervention.raised")[-1]["reason"] == "item_removed"
        b.send(ev.StaffLogin("S0001", "2468"))
        b.send(Scanned(CHIPS))
        self.bag(b, 200)  # chips weigh 80 g: something heavier went in instead
        assert b.events("intervention.raised")[-1]["reason"] == "weight_mismatch"

    def test_unknown_weight_is_learned(self, b):
        self.bag(b, 0)
        b.send(Scanned(TISSUE))
        self.bag(b, 612)
        assert b.events("item.bagged") and not b.state.interventions


def test_flows_import_no_io_libraries():
    code = ("import sys, kiosk.flows.checkout, kiosk.flows.bagging\n"
            "bad = [m for m in ('kivy', 'paho', 'serial', 'cv2', 'escpos', 'gpiozero') if m in sys.modules]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_session_ends_with_a_reason(h):
    h.send(Scanned("6901234567892"))
    h.pay()
    h.send(ev.ChooseReceipt("none"))
    h.wait(10)  # nobody answers the feedback question
    assert h.events("session.ended")[-1]["reason"] == "completed"
    assert h.state.mode is Mode.ATTRACT
    h.send(ev.Start())
    h.wait(60)  # touched the screen, scanned nothing
    assert h.events("session.ended")[-1]["reason"] == "idle"
    h.send(Scanned("6901234567892"), ev.RemoteLock(True))
    h.send(ev.StaffLogin("S0001", "2468"), ev.StaffAction("cancel_sale"))
    assert [e["reason"] for e in h.events("session.ended")] == ["completed", "idle", "abandoned"]
    assert h.state.mode is Mode.CLOSED


def test_a_pin_inside_a_scanned_code_is_not_a_login_on_a_real_lane(h):
    h.send(Scanned(BEER[1:]), Scanned("S0001:2468"))
    assert not h.events("staff.login") and h.events("staff.pin_required")
    assert h.state.interventions, "the age check is still waiting for a real attendant"


def test_five_wrong_pins_lock_the_badge_out(h):
    h.send(Scanned(BEER[1:]))
    for _ in range(5):
        h.send(ev.StaffLogin("S0001", "0000"))
    h.send(ev.StaffLogin("S0001", "2468"))
    assert h.events("staff.denied")[-1]["reason"] == "locked_out" and h.state.interventions
    h.wait(301)
    h.send(ev.StaffLogin("S0001", "2468"))
    assert h.events("staff.login") and not h.state.interventions


def test_a_sale_the_store_cannot_keep_waits_for_an_attendant_then_commits_again(h):
    h.send(Scanned("6901234567892"))
    out = h.pay()
    sale = next(e.sale for e in out if isinstance(e, fx.CommitSale))
    h.send(ev.SaleNotStored(sale.sale_id, "disk full"))
    assert h.state.mode is Mode.NEEDS_ATTENDANT
    h.send(ev.ChooseReceipt("print"))
    assert not any(isinstance(e, fx.PrintReceipt) for e in h.effects), "no receipt for an unstored sale"
    out = h.send(ev.StaffLogin("S0001", "2468"))
    assert [e.sale.sale_id for e in out if isinstance(e, fx.CommitSale)] == [sale.sale_id]
    assert h.state.mode is Mode.RECEIPT


def test_shopping_actions_in_staff_mode_are_refused(h):
    h.send(ev.StaffLogin("S0001", "2468"))
    assert h.state.mode is Mode.STAFF
    h.send(ev.ChooseProduce("4011"), ev.ApplyCoupon("C-OFF5"), Scanned("6901234567892"))
    assert h.state.sale_id is None and h.state.cart.is_empty
    assert {e["reason"] for e in h.events("action.refused")} == {"staff_mode"}


def test_staff_unlock_mid_session_keeps_the_shopper(h):
    h.send(Scanned("6901234567892"), ev.StaffLogin("S0001", "2468"), ev.StaffAction("unlock"))
    assert h.state.mode is Mode.SHOPPING and h.state.cart.item_count == 1


def test_fleet_unlock_while_staff_mode_on_a_locked_lane_reopens_it(h):
    h.send(ev.RemoteLock(True), ev.StaffLogin("S0001", "2468"), ev.RemoteLock(False), ev.StaffAction("exit"))
    assert h.state.mode is Mode.ATTRACT


def test_lock_on_the_receipt_screen_still_prints_the_receipt(h):
    h.send(Scanned("6901234567892"))
    h.pay()
    h.send(ev.RemoteLock(True))
    assert h.events("receipt.printed") and h.state.mode is Mode.CLOSED


def test_the_next_shopper_starts_in_the_kiosk_language(h):
    h.send(ev.SetLanguage("en"), Scanned("6901234567892"))
    h.pay()
    h.send(ev.GiveFeedback(5), Scanned("6901234567892"))
    assert h.events("session.started")[-1]["language"] == "zh"


def test_quantities_are_capped(h):
    h.send(Scanned("6901234567892"), ev.SetQuantity(100_000_000_000))
    assert h.state.cart.item_count == 1 and h.events("action.refused")[-1]["reason"] == "bad_quantity"
    h.send(ev.SetQuantity(999), Scanned("6901234567892"))
    assert h.state.cart.item_count == 999 and h.events("action.refused")[-1]["reason"] == "quantity_limit"


def test_a_late_payment_never_completes_a_changed_basket(h):
    h.send(Scanned("6901234567892"), ev.ChoosePayment("sim"))
    first = h.state.payment
    h.send(ev.CancelPayment(), ev.BackToShopping(), Scanned(CHIPS), ev.ChoosePayment("sim"))
    h.send(ev.PaymentResult(first.order_id, "paid", amount_fen=350))
    assert not h.events("sale.completed")
    assert h.events("payment.orphaned")[-1]["reason"] == "late_payment"
    assert h.state.mode is Mode.NEEDS_ATTENDANT and h.state.payment is None


def test_a_late_payment_for_an_unchanged_basket_completes_it(h):
    h.send(Scanned("6901234567892"), ev.ChoosePayment("alipay"))
    first = h.state.payment
    h.send(ev.CancelPayment(), ev.PaymentResult(first.order_id, "paid", amount_fen=350))
    sale = h.events("sale.completed")[-1]
    assert sale["payments"][-1] == {"method": "alipay", "amount": "3.50", "status": "paid", "reference": None}


def test_an_attendant_call_during_payment_cancels_the_order(h):
    h.send(Scanned("6901234567892"), Scanned(CHIPS), ev.ChoosePayment("sim"))
    order = h.state.payment
    h.send(ev.StaffLogin("S0001", "2468"))
    assert h.state.payment is None and any(isinstance(e, fx.CancelPaymentOrder) for e in h.effects)
    h.send(ev.StaffAction("void", 2), ev.StaffAction("exit"))
    h.send(ev.PaymentResult(order.order_id, "paid", amount_fen=order.amount.fen))
    assert not h.events("sale.completed"), "the old order's money never completes the smaller basket"


class TestBaggingAfterReview:
    @pytest.fixture
    def b(self):
        return Harness(security={"enabled": True})

    def bag(self, b, grams):
        return b.send(WeightReading(ScaleRole.BAGGING, grams, True, "ok"))

    def test_an_item_too_light_to_weigh_is_not_waited_for(self, b):
        from kiosk.catalog import replace_items
        light = Item(gtin("6904444444449"), None, "购物袋", "Shopping bag", Money(30), Unit.EACH, weight_g=8)
        replace_items(b.conn, [*ITEMS, light])
        self.bag(b, 0)
        b.send(Scanned(light.gtin))
        b.pay()
        assert b.events("sale.completed")

    def test_a_voided_item_that_was_bagged_must_leave_the_bag(self, b):
        self.bag(b, 0)
        b.send(Scanned("6901234567892"))
        self.bag(b, 350)
        b.send(Scanned(CHIPS))
        self.bag(b, 430)
        b.send(ev.RequestVoid(2), ev.StaffLogin("S0001", "2468"))
        # the chips are still in the bag: the scale says so at once
        assert b.events("intervention.raised")[-1]["reason"] == "unexpected_item"
        self.bag(b, 351)  # taken out
        assert b.events("intervention.cleared")[-1]["by"] == "shopper"


def test_produce_already_on_the_scale_is_weighed_when_chosen(h):
    h.send(WeightReading(ScaleRole.PRODUCE, 512, True, "ok"))  # bananas put down first
    h.send(ev.ChooseProduce("4011"), ev.ConfirmWeight())
    assert h.state.cart.lines[0].weight_g == 512
    h.send(WeightReading(ScaleRole.PRODUCE, None, False, "no_answer"))  # then the scale is unplugged
    h.send(ev.ChooseProduce("4011"), ev.ConfirmWeight())
    assert len(h.state.cart.lines) == 1 and h.events("weight.rejected")[-1]["reason"] == "no_answer"


def test_only_issued_coupons_and_one_per_sale(h):
    h.send(Scanned("6901234567892"), ev.ApplyCoupon("C-OFF9999"))
    assert h.events("coupon.rejected")[-1]["reason"] == "unknown_coupon"
    h.send(ev.ApplyCoupon("C-PCT10"), ev.ApplyCoupon("C-OFF5"))
    assert h.events("coupon.rejected")[-1]["reason"] == "one_per_sale"
    assert h.state.coupons == ("C-PCT10",) and h.state.priced_cart.total == Money(315)
