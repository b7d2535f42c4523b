"""The presenter without Kivy: a real lane (processed synchronously), the demo catalog, both languages."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from kiosk.catalog import load_demo
from kiosk.clock import SimClock
from kiosk.config import load_config
from kiosk.db import connect
from kiosk.events import Scanned, WeightReading
from kiosk.flows import events as ev
from kiosk.flows.checkout import BLOCKING
from kiosk.lane import Lane
from kiosk.money import Money
from kiosk.payments.simulated import SimulatedWallet
from kiosk.ui import i18n
from kiosk.ui.presenter import _BLOCKED, _NOTICES, _REFUSED, Presenter, money, parse_kg, reason_text

COLA = "6901234567892"  # 可乐 330ml 罐装, 3.50
BANANA = "4011"  # 香蕉, 6.98/kg, tare 3 g
APP_SOURCE = Path(__file__).resolve().parents[2] / "kiosk" / "ui" / "app.py"


class Rig:
    """A lane handled on the calling thread; every posted intent is also recorded."""

    def __init__(self, simulate: bool = True) -> None:
        config = load_config(None, {"payments": {"simulated": True}, "security": {"enabled": False},
                                    "mqtt": {"enabled": False}})
        self.conn = connect(":memory:")
        load_demo(self.conn)
        self.lane = Lane(config, self.conn, SimClock(), demo_staff=True)
        self.lane.payments = SimulatedWallet()
        self.posted: list[object] = []
        self.p = Presenter(self._post, lambda: self.lane.flow.state, produce=self.lane.catalog.produce(),
                           methods=["alipay", "wechat", "sim"], simulate=simulate)
        self.lane.listeners.append(self.p.observe)

    def _post(self, event: object) -> None:
        self.posted.append(event)
        self.lane.post(event)
        self.lane.process_pending()

    @property
    def view(self):
        return self.p.view()

    @property
    def state(self):
        return self.lane.flow.state


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.conn.close()


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# -- strings ----------------------------------------------------------------------------------

def test_both_languages_have_every_string_with_the_same_fields():
    assert set(i18n.ZH) == set(i18n.EN)
    for key in i18n.ZH:
        assert i18n.ZH[key].strip() and i18n.EN[key].strip(), key
        assert fields(i18n.ZH[key]) == fields(i18n.EN[key]), key


def test_every_label_the_screens_use_is_in_both_tables():
    source = APP_SOURCE.read_text(encoding="utf-8")
    used = set(re.findall(r'label\("([a-z_.]+)"\)', source)) | set(re.findall(r'labels\["([a-z_.]+)"\]', source))
    for prefix, names in (("staff", ("exit", "cancel_sale", "lock", "unlock")), ("receipt", ("print", "qr", "none"))):
        used |= {f"{prefix}.{n}" for n in names}  # built with f-strings from STAFF_ACTIONS / RECEIPT_CHOICES
    assert len(used) > 30
    assert used <= set(i18n.ZH), used - set(i18n.ZH)


def test_every_notice_and_reason_has_a_string():
    keys = {k for k, _ in _NOTICES.values()} | set(_BLOCKED.values()) | set(_REFUSED.values())
    assert keys <= set(i18n.ZH)
    for reason in BLOCKING | {"age_check", "help"}:
        assert reason_text(reason, "en") != i18n.EN["reason.other"], reason
    assert reason_text("something_new", "zh") == i18n.ZH["reason.other"]


def test_money_and_weights_as_the_shopper_reads_them():
    assert money(Money(350)) == "¥3.50"
    assert money(Money(-100)) == "-¥1.00"
    assert parse_kg("0.512") == 512
    assert parse_kg(" 0,512 ") == 512
    assert parse_kg("2") == 2000
    for bad in ("", "abc", "-1", "0", "0.0001", "nan", "inf", "1e9", "1001"):
        assert parse_kg(bad) is None, bad


# -- screens and taps -------------------------------------------------------------------------

def test_attract_in_chinese_then_english(rig):
    view = rig.view
    assert view.screen == "attract"
    assert view.label("attract.start") == "点击开始结账"
    assert view.label("language.other") == "English"
    rig.p.toggle_language()
    assert rig.posted == [ev.SetLanguage("en")]
    view = rig.view
    assert view.label("attract.start") == "Tap to start"
    assert view.label("language.other") == "中文"


def test_scanning_fills_the_cart_with_names_quantities_and_amounts(rig):
    rig.p.start()
    assert rig.view.screen == "shopping"
    assert rig.view.label("shopping.empty")
    assert rig.p.scan(f" {COLA}\n")
    assert rig.posted[-1] == Scanned(COLA, source="sim")
    view = rig.view
    (row,) = view.cart
    assert (row.name, row.detail, row.amount, row.can_add) == ("可乐 330ml 罐装", "", "¥3.50", True)
    assert view.total == "合计 ¥3.50"
    assert view.item_count == "共 1 件"
    assert view.notice == "已添加 可乐 330ml 罐装"
    rig.p.scan(COLA)
    (row,) = rig.view.cart
    assert (row.detail, row.amount) == ("2 × ¥3.50", "¥7.00")
    rig.p.add_one(row.line_no)
    assert rig.posted[-1] == ev.SetQuantity(3, row.line_no)
    assert rig.view.cart[0].amount == "¥10.50"
    rig.p.toggle_language()
    view = rig.view
    assert (view.cart[0].name, view.total, view.item_count) == ("Cola 330ml can", "Total ¥10.50", "Items: 3")
    assert view.notice == "Cola 330ml can: quantity 3"  # the item named again in English


def test_empty_scans_are_not_posted_and_unknown_barcodes_do_not_lock_the_lane(rig):
    rig.p.start()
    assert not rig.p.scan("   ")
    assert rig.posted == [ev.Start()]
    rig.p.scan("1234567890128")
    view = rig.view
    assert view.screen == "shopping"
    assert view.notice.startswith("未找到该商品（1234567890128）")
    rig.p.toggle_language()
    assert rig.view.notice.startswith("Item not found (1234567890128)")


def test_produce_picker_and_simulated_scale(rig):
    choices = {c.key: c for c in rig.view.produce_choices}
    assert choices[BANANA].label == "香蕉" and choices[BANANA].detail == "¥6.98/千克"
    rig.p.start()
    rig.p.choose_produce(BANANA)
    view = rig.view
    assert view.screen == "produce"
    assert view.produce_title == "请将香蕉放在秤上"
    assert view.produce_weight == "秤上还没有商品"
    posted = len(rig.posted)
    assert not rig.p.place_on_scale("half a kilo")
    assert len(rig.posted) == posted
    assert rig.view.notice == "请输入重量，例如 0.512"
    assert rig.p.place_on_scale("0.512")
    assert isinstance(rig.posted[-1], WeightReading) and rig.posted[-1].weight_g == 512
    view = rig.view
    assert view.produce_weight == "重量 0.512 千克"
    assert view.produce_amount == "金额 ¥3.55"  # net 509 g x 6.98
    rig.p.confirm_weight()
    view = rig.view
    assert view.screen == "shopping"
    (row,) = view.cart
    assert (row.name, row.detail, row.amount, row.can_add) == ("香蕉", "0.509 千克 × ¥6.98/千克", "¥3.55", False)


def test_paying_declined_then_paid_then_receipt_and_feedback(rig):
    rig.p.start()
    rig.p.go_to_payment()
    assert rig.view.notice == "购物车是空的"
    rig.p.scan(COLA)
    rig.p.go_to_payment()
    view = rig.view
    assert view.screen == "payment_selection"
    assert view.amount_due == "应付 ¥3.50"
    assert [(c.key, c.label) for c in view.methods][-1] == ("sim", "模拟钱包")
    rig.p.choose_payment("alipay")
    view = rig.view
    assert view.screen == "awaiting_payment"
    assert view.awaiting_title == "请用支付宝扫码支付"
    assert view.qr and view.qr.startswith("SIMPAY:alipay:")
    assert rig.p.simulate_wallet("declined")
    view = rig.view
    assert view.screen == "payment_selection"
    assert view.notice == "支付未成功，请重试或换一种支付方式"
    rig.p.choose_payment("sim")
    order = rig.state.payment
    assert rig.p.simulate_wallet("paid")
    assert rig.posted[-1] == ev.PaymentResult(order.order_id, "paid", reference=f"SIM-{order.order_id}",
                                              amount_fen=350)
    view = rig.view
    assert view.screen == "receipt"
    assert view.paid == "已付 ¥3.50"
    rig.p.choose_receipt("none")
    assert rig.view.screen == "feedback"
    rig.p.give_feedback(5)
    assert rig.view.screen == "attract"


def test_the_wallet_buttons_need_a_pending_order_and_simulation(rig):
    rig.p.start()
    posted = len(rig.posted)
    assert not rig.p.simulate_wallet("paid")
    assert len(rig.posted) == posted
    assert rig.view.notice == "没有等待中的付款"
    real = Rig(simulate=False)
    real.p.start()
    real.p.scan(COLA)
    real.p.go_to_payment()
    real.p.choose_payment("alipay")
    assert not real.p.simulate_wallet("paid")
    assert real.view.screen == "awaiting_payment"
    real.conn.close()


def test_help_shows_a_banner_until_an_attendant_approves(rig):
    rig.p.start()
    rig.p.call_help()
    view = rig.view
    assert view.screen == "shopping"
    assert view.attention == "等待店员：已呼叫帮助"
    assert not rig.p.staff_login("S0001", "  ")
    assert rig.view.notice == "工号或密码不正确"
    assert rig.p.staff_login(" s0001 ", "2468")
    assert rig.posted[-1] == ev.StaffLogin("S0001", "2468")
    assert rig.view.attention == ""


def test_a_void_waits_for_the_attendant_pin(rig):
    rig.p.start()
    rig.p.scan(COLA)
    rig.p.request_void(1)
    view = rig.view
    assert view.screen == "needs_attendant"
    assert view.blocking
    assert "删除商品需店员确认" in view.attention
    rig.p.staff_login("S0001", "0000")
    assert rig.view.notice == "工号或密码不正确"
    assert rig.view.screen == "needs_attendant"
    rig.p.staff_login("S0001", "2468")
    view = rig.view
    assert view.screen == "shopping"
    assert view.cart == ()
    assert view.notice == "已删除 可乐 330ml 罐装"


def test_a_notice_goes_away_when_the_screen_changes(rig):
    rig.p.start()
    rig.p.scan("1234567890128")
    assert rig.view.notice
    rig.p.choose_produce(BANANA)
    assert rig.view.notice == ""


def test_staff_mode_and_a_scanned_badge(rig):
    rig.p.start()
    rig.p.scan("S0001")
    view = rig.view
    assert view.staff_prefill == "S0001"
    assert view.notice == "请输入店员密码"
    rig.p.staff_login(view.staff_prefill, "2468")
    view = rig.view
    assert view.screen == "staff"
    assert view.staff_title == "店员模式（S0001）"
    rig.p.staff_action("exit")
    assert rig.view.screen == "shopping"


def test_the_screen_is_told_about_a_notice_at_once(rig):
    calls = []
    rig.p.on_notice = lambda: calls.append(1)
    rig.p.place_on_scale("x")
    assert calls == [1]


def test_e_receipt_qr_follows_the_receipt_choice(rig):
    from kiosk.events import DeviceState
    rig.p.scan(COLA)
    rig.p.choose_payment("sim")
    rig.p.simulate_wallet("paid")
    assert rig.view.receipt_qr is None
    rig.p.choose_receipt("qr")
    view = rig.view
    assert view.screen == "feedback"
    assert view.receipt_qr == "KR1:" + rig.state.last_sale.receipt_token
    rig.p.give_feedback(4)
    # printer out of paper: asking for a printed receipt gives the QR instead
    rig.lane.post(DeviceState("printer", "fault", "paper_out"))
    rig.p.scan(COLA)
    rig.p.choose_payment("sim")
    rig.p.simulate_wallet("paid")
    rig.p.choose_receipt("print")
    assert rig.view.receipt_qr == "KR1:" + rig.state.last_sale.receipt_token
    assert rig.view.notice == "打印机暂不可用，请扫码获取电子小票"
