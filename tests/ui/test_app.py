"""The real Kivy app in a real window on Xvfb, driven by taps on widget ids.

This module starts its own Xvfb on a free display (``-displayfd``) and points DISPLAY, SDL and
Kivy at it before Kivy is imported; it skips only when Xvfb is not installed. The lane runs on
its own core thread as in ``kiosk run --simulate``. Screenshots of the attract and shopping
screens are written to the test's tmp directory and checked for content; set
``KIOSK_UI_SHOTS=DIR`` to keep copies to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.catalog import load_demo
from kiosk.clock import utc_now
from kiosk.db import connect
from kiosk.flows import events as ev
from kiosk.lane import Lane
from kiosk.payments.simulated import SimulatedWallet
from kiosk.simulator import simulator_config
from kiosk.ui.presenter import Presenter

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None,
                                reason="Xvfb is not installed (apt-get install xvfb); the real-window UI test needs it")

COLA = "6901234567892"
SIZE = (800, 480)


@pytest.fixture(scope="module")
def xvfb(tmp_path_factory):
    proc = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", f"{SIZE[0]}x{SIZE[1]}x24", "-nolisten",
                             "tcp"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    number = proc.stdout.readline().strip()  # written once the server is ready
    if not number.isdigit():
        proc.kill()
        pytest.fail(f"Xvfb did not start (said {number!r})")
    saved = dict(os.environ)
    os.environ.update(DISPLAY=f":{number}", SDL_VIDEODRIVER="x11", KIVY_NO_ARGS="1", KIVY_NO_CONSOLELOG="1",
                      KIVY_NO_FILELOG="1", KIVY_HOME=str(tmp_path_factory.mktemp("kivy-home")))
    for key in ("WAYLAND_DISPLAY", "KIVY_WINDOW", "KIOSK_TOUCH_DEVICE"):
        os.environ.pop(key, None)
    yield os.environ["DISPLAY"]
    os.environ.clear()
    os.environ.update(saved)
    proc.terminate()
    proc.wait(10)


class Driver:
    """Taps by widget id, frames, waits and screenshots on the running app."""

    def __init__(self, app, window, posted: list[object], shots: Path) -> None:
        self.app, self.window, self.posted, self.shots = app, window, posted, shots

    def frames(self, n: int = 1) -> None:
        from kivy.base import EventLoop

        for _ in range(n):
            EventLoop.idle()

    def until(self, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        """Pump frames until ``check()`` holds: the lane answers on its own thread."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                view = self.app.view
                raise AssertionError(f"timed out waiting for {what}; screen {self.screen!r}, "
                                     f"notice {view.notice if view else None!r}")
            self.frames(1)
            time.sleep(0.01)
        self.frames(2)

    @property
    def screen(self) -> str:
        return self.app.root.current

    def tap(self, key: str) -> None:
        self.tap_widget(self.app.widget(key), key)

    def tap_widget(self, widget, what: str = "") -> None:
        from kivy.tests.common import UnitTestTouch
        from kivy.uix.recycleview import RecycleView
        from kivy.uix.scrollview import ScrollView

        assert not widget.disabled and widget.opacity > 0, f"{what or widget} is hidden"
        parent, seen = widget.parent, set()
        while parent is not None and id(parent) not in seen:  # the Window is its own parent
            seen.add(id(parent))
            if isinstance(parent, ScrollView) and not isinstance(parent, RecycleView):  # bring the widget into view, as a shopper would scroll
                parent.scroll_to(widget, padding=10, animate=False)
                self.frames(2)
                break
            parent = parent.parent
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        self.frames(1)
        touch.touch_up()
        self.frames(2)

    def type(self, key: str, text: str) -> None:
        self.app.widget(key).text = text

    def shot(self, name: str) -> Path:
        self.frames(3)
        path = Path(self.window.screenshot(name=str(self.shots / f"{name}.png")))
        keep = os.environ.get("KIOSK_UI_SHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    def cart_rows(self):
        layout = self.app.widget("shopping.cart").children[0]
        return sorted(layout.children, key=lambda row: row.line_no)


@pytest.fixture(scope="module")
def ui(xvfb, tmp_path_factory):
    from kiosk.ui.display import detect
    from kiosk.ui.window import open_window

    display = detect(os.environ)
    assert display.kind == "x11"
    window = open_window(display, size=SIZE)
    from kivy.base import runTouchApp

    from kiosk.devices import SimulatedDevices
    from kiosk.ui.app import KioskApp

    config = simulator_config(None, None)
    conn = connect(":memory:")
    load_demo(conn)
    lane = Lane(config, conn, utc_now, demo_staff=True)
    lane.payments = SimulatedWallet()
    posted: list[object] = []

    def post(event: object) -> None:
        posted.append(event)
        lane.post(event)

    devices = SimulatedDevices()  # the produce scale on a pty, speaking Toledo 8217; mock GPIO pins
    devices.start(config, lane)
    presenter = Presenter(post, lambda: lane.flow.state, produce=lane.catalog.produce(),
                          methods=[*config.payments.methods, "sim"], simulate=True,
                          place_weight=devices.place_produce)
    app = KioskApp(lane, presenter)
    lane.start()
    # App.run() without its blocking loop: build, show, on_start, then the input providers.
    app._run_prepare()
    runTouchApp(embedded=True)
    driver = Driver(app, window, posted, tmp_path_factory.mktemp("shots"))
    driver.frames(3)  # taps before the first frames are lost (DESIGN 6)
    yield driver
    app._stop()
    lane.stop()
    devices.close()
    conn.close()


def assert_not_blank(path: Path) -> None:
    from PIL import Image, ImageStat

    with Image.open(path) as img:
        assert img.size == SIZE
        grey = img.convert("L")
        low, high = grey.getextrema()
        assert high - low > 100, f"{path} is flat"
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
        assert ImageStat.Stat(grey).stddev[0] > 10


def test_exactly_one_input_provider(ui):
    from kivy.config import Config

    assert Config.items("input") == [("mouse", "mouse,disable_multitouch")]


def test_the_ui_font_draws_chinese_glyphs_not_boxes(ui):
    from kivy.core.text import Label as CoreLabel

    def pixels(text: str) -> bytes:
        label = CoreLabel(text=text, font_size=40)
        label.refresh()
        return bytes(label.texture.pixels)

    welcome, come, missing = pixels("欢"), pixels("迎"), pixels("\ue000")
    assert welcome != come, "two different characters render the same: the font has no CJK glyphs"
    assert welcome != missing


def test_attract_screen_language_toggle_and_screenshot(ui):
    assert ui.screen == "attract"
    assert ui.app.widget("attract.start").text == "点击开始结账"
    shot = ui.shot("attract-zh")
    assert_not_blank(shot)
    ui.tap("attract.language")
    ui.until(lambda: ui.app.widget("attract.start").text == "Tap to start", "English")
    assert ui.app.widget("attract.language").text == "中文"
    assert_not_blank(ui.shot("attract-en"))
    ui.tap("attract.language")
    ui.until(lambda: ui.app.widget("attract.start").text == "点击开始结账", "Chinese again")


def test_a_whole_sale_by_taps(ui):
    ui.tap("attract.start")
    ui.until(lambda: ui.screen == "shopping", "the shopping screen")
    assert ui.posted.count(ev.Start()) == 1

    ui.type("shopping.scan_input", COLA)
    ui.tap("shopping.scan_add")
    ui.until(lambda: len(ui.cart_rows()) == 1, "the cola in the cart")
    row = ui.cart_rows()[0]
    assert (row.name, row.amount) == ("可乐 330ml 罐装", "¥3.50")
    assert ui.app.widget("shopping.total").text == "合计 ¥3.50"
    assert ui.app.widget("shopping.scan_input").text == ""

    ui.tap_widget(row.add_button, "+1")  # one tap, one more: no double taps
    ui.until(lambda: ui.cart_rows()[0].amount == "¥7.00", "quantity 2")
    ui.frames(5)
    assert ui.cart_rows()[0].amount == "¥7.00"
    assert sum(isinstance(e, ev.SetQuantity) for e in ui.posted) == 1

    ui.tap("shopping.produce")
    ui.until(lambda: "produce_picker.4011" in ui.app.widgets and ui.app.produce_picker.parent is not None,
             "the produce picker")
    ui.tap("produce_picker.4011")
    ui.until(lambda: ui.screen == "produce", "the produce screen")
    ui.type("produce.weight_input", "0.512")
    ui.tap("produce.place")
    ui.until(lambda: "0.512" in ui.app.widget("produce.weight").text
             and not ui.app.widget("produce.confirm").disabled, "the stable weight on screen")
    assert_not_blank(ui.shot("produce-zh"))
    ui.tap("produce.confirm")
    ui.until(lambda: ui.screen == "shopping" and len(ui.cart_rows()) == 2, "the bananas in the cart")
    assert ui.app.widget("shopping.total").text == "合计 ¥10.55"
    assert_not_blank(ui.shot("shopping-zh"))
    ui.tap("shopping.language")
    ui.until(lambda: ui.app.widget("shopping.total").text == "Total ¥10.55", "the cart in English")
    assert ui.cart_rows()[0].name == "Cola 330ml can"
    assert_not_blank(ui.shot("shopping-en"))
    ui.tap("shopping.language")
    ui.until(lambda: ui.app.widget("shopping.total").text == "合计 ¥10.55", "the cart in Chinese")

    ui.tap("shopping.pay")
    ui.until(lambda: ui.screen == "payment_selection", "the payment screen")
    ui.until(lambda: "payment_selection.method.sim" in ui.app.widgets, "the payment methods")
    assert_not_blank(ui.shot("payment-selection-zh"))
    ui.tap("payment_selection.method.alipay")
    ui.until(lambda: ui.screen == "awaiting_payment", "the QR screen")
    ui.until(lambda: ui.app.widget("awaiting_payment.qr").texture is not None, "the QR code")
    assert_not_blank(ui.shot("awaiting-payment-zh"))
    ui.tap("awaiting_payment.sim_declined")
    ui.until(lambda: ui.screen == "payment_selection", "back to choosing after a decline")
    ui.tap("payment_selection.method.sim")
    ui.until(lambda: ui.screen == "awaiting_payment", "the QR screen again")
    ui.tap("awaiting_payment.sim_paid")
    ui.until(lambda: ui.screen == "receipt", "the thanks screen")
    assert ui.app.widget("receipt.paid").text == "已付 ¥10.55"
    assert_not_blank(ui.shot("receipt-zh"))
    ui.tap("receipt.none")
    ui.until(lambda: ui.screen == "feedback", "the feedback screen")
    ui.tap("feedback.5")
    ui.until(lambda: ui.screen == "attract", "the next shopper's attract screen")


def test_help_and_a_void_need_the_attendant_pin(ui):
    ui.tap("attract.start")
    ui.until(lambda: ui.screen == "shopping", "the shopping screen")
    ui.tap("shopping.help")
    ui.until(lambda: not ui.app.widget("shopping.staff").disabled, "the attendant banner")
    assert ui.app.widget("shopping.attention").text == "等待店员：已呼叫帮助"
    ui.tap("shopping.staff")
    ui.until(lambda: ui.app.staff_popup.parent is not None, "the staff popup")
    ui.type("staff_popup.staff_id", "S0001")
    ui.type("staff_popup.pin", "2468")
    ui.tap("staff_popup.login")
    ui.until(lambda: ui.app.widget("shopping.staff").disabled, "the banner to clear")
    assert ui.app.widget("shopping.attention").text == ""
    assert ui.app.staff_popup.parent is None
    assert ui.app.widget("staff_popup.pin").text == ""

    ui.type("shopping.scan_input", COLA)
    ui.tap("shopping.scan_add")
    ui.until(lambda: len(ui.cart_rows()) == 1, "the cola in the cart")
    ui.tap_widget(ui.cart_rows()[0].void_button, "remove")
    ui.until(lambda: ui.screen == "needs_attendant", "the attendant screen")
    assert "删除商品需店员确认" in ui.app.widget("needs_attendant.reasons").text
    assert_not_blank(ui.shot("needs-attendant-zh"))
    ui.type("needs_attendant.staff_id", "S0001")
    ui.type("needs_attendant.pin", "1111")
    ui.tap("needs_attendant.login")
    ui.until(lambda: ui.app.view.notice == "工号或密码不正确", "the wrong PIN notice")
    assert ui.screen == "needs_attendant"
    ui.type("needs_attendant.pin", "2468")
    ui.tap("needs_attendant.login")
    ui.until(lambda: ui.screen == "shopping" and not ui.cart_rows(), "the line removed")
