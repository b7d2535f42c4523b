"""The kiosk's Kivy app: one ScreenManager with a screen per checkout mode.

Thin on purpose: each screen copies a ``View`` (from ``kiosk.ui.presenter``) into its widgets
and turns a tap into one presenter call. The lane's listeners run on the core thread, so they
only schedule a refresh on Kivy's main thread (``Clock.schedule_once`` is thread safe). A slow
poll of the state catches the few changes that emit no event (a timeout ending the feedback
screen). Every interactive widget is registered under a name (``app.widget("shopping.pay")``)
for tests and scripted demos.

Import this only after ``kiosk.ui.window.open_window`` has set Kivy up.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import qrcode
from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, Rectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.image import Image
from kivy.uix.label import Label
from kivy.uix.popup import Popup
from kivy.uix.recycleboxlayout import RecycleBoxLayout
from kivy.uix.recycleview import RecycleView
from kivy.uix.screenmanager import NoTransition, Screen, ScreenManager
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from kiosk.flows.checkout import Mode
from kiosk.ui.presenter import Presenter, View

BACKGROUND = (0.11, 0.12, 0.14, 1)
BANNER = (0.80, 0.45, 0.05, 1)
COLORS = {
    "plain": (0.28, 0.30, 0.34, 1),
    "go": (0.10, 0.55, 0.25, 1),
    "help": (0.85, 0.50, 0.05, 1),
    "stop": (0.70, 0.18, 0.18, 1),
    "sim": (0.25, 0.35, 0.60, 1),
}
POLL_S = 0.5
STAFF_ACTIONS = ("exit", "cancel_sale", "lock", "unlock")
RECEIPT_CHOICES = ("print", "qr", "none")


# -- small builders ------------------------------------------------------------------------------

class Registry(dict[str, Widget]):
    def add(self, key: str, widget: Any) -> Any:
        if key in self:
            raise KeyError(f"widget id {key!r} used twice")
        self[key] = widget
        return widget


def wrapped(label: Label) -> Label:
    """Wrap the label's text to its width."""
    label.bind(width=lambda w, width: setattr(w, "text_size", (width, None)))
    return label


def make_label(font_size: str = "18sp", **kw: Any) -> Label:
    kw.setdefault("halign", "center")
    kw.setdefault("valign", "middle")
    return wrapped(Label(font_size=font_size, **kw))


def make_button(on_tap: Callable[[], Any], color: str = "plain", font_size: str = "20sp", **kw: Any) -> Button:
    button = Button(background_normal="", background_down="", background_color=COLORS[color],
                    font_size=font_size, halign="center", valign="middle", **kw)
    wrapped(button)
    button.bind(on_release=lambda *_: on_tap())
    return button


def show(widget: Widget, visible: bool, collapse: bool = False) -> None:
    """Show or hide (hidden widgets take no taps); ``collapse`` also gives up its height."""
    widget.opacity = 1 if visible else 0
    widget.disabled = not visible
    if collapse:
        if not hasattr(widget, "_kiosk_height"):
            widget._kiosk_height = (widget.size_hint_y, widget.height)  # type: ignore[attr-defined]
        hint, height = widget._kiosk_height  # type: ignore[attr-defined]
        widget.size_hint_y, widget.height = (hint, height) if visible else (None, 0)


def paint(widget: Widget, rgba: tuple[float, ...]) -> None:
    """A solid background behind the widget's children."""
    with widget.canvas.before:
        Color(*rgba)
        rect = Rectangle(pos=widget.pos, size=widget.size)
    widget.bind(pos=lambda w, p: setattr(rect, "pos", p), size=lambda w, s: setattr(rect, "size", s))


def qr_texture(payload: str) -> Texture:
    image = qrcode.make(payload, box_size=8, border=2).get_image().convert("RGBA")
    texture = Texture.create(size=image.size, colorfmt="rgba")
    texture.blit_buffer(image.tobytes(), colorfmt="rgba", bufferfmt="ubyte")
    texture.flip_vertical()
    texture.mag_filter = "nearest"
    return texture


# -- the cart list -------------------------------------------------------------------------------

class CartRowView(BoxLayout):
    """One cart line in the RecycleView; the presenter comes in with the row data."""

    presenter = ObjectProperty(None, allownone=True)
    line_no = NumericProperty(0)
    name = StringProperty("")
    detail = StringProperty("")
    amount = StringProperty("")
    can_add = BooleanProperty(False)
    is_discount = BooleanProperty(False)
    add_text = StringProperty("+1")
    void_text = StringProperty("")

    def __init__(self, **kw: Any) -> None:
        super().__init__(orientation="horizontal", spacing=dp(6), padding=(dp(6), dp(2)), **kw)
        self.name_label = make_label("17sp", halign="left", size_hint_x=0.40)
        self.detail_label = make_label("14sp", halign="left", size_hint_x=0.22, color=(0.75, 0.78, 0.82, 1))
        self.amount_label = make_label("18sp", halign="right", size_hint_x=0.16)
        self.add_button = make_button(lambda: self.presenter.add_one(self.line_no), font_size="16sp",
                                      size_hint_x=0.08)
        self.void_button = make_button(lambda: self.presenter.request_void(self.line_no), "stop",
                                       font_size="14sp", size_hint_x=0.14)
        for child in (self.name_label, self.detail_label, self.amount_label, self.add_button, self.void_button):
            self.add_widget(child)
        self.add_button.text = self.add_text  # bindings fire on changes only: start from the defaults
        show(self.add_button, self.can_add)
        self.bind(name=self.name_label.setter("text"), detail=self.detail_label.setter("text"),
                  amount=self.amount_label.setter("text"), add_text=self.add_button.setter("text"),
                  void_text=self.void_button.setter("text"),
                  can_add=lambda _, v: show(self.add_button, v),
                  is_discount=lambda _, v: show(self.void_button, not v))


def cart_list() -> RecycleView:
    rv = RecycleView(bar_width=dp(6), scroll_type=["bars", "content"])
    layout = RecycleBoxLayout(default_size=(None, dp(48)), default_size_hint=(1, None), size_hint_y=None,
                              orientation="vertical", spacing=dp(2))
    layout.bind(minimum_height=layout.setter("height"))
    rv.add_widget(layout)
    rv.viewclass = CartRowView  # only after the layout: RecycleView hands it to its layout manager
    return rv


# -- screens -------------------------------------------------------------------------------------

class KioskScreen(Screen):
    """A screen named after its mode, with a title bar (title, notice, language toggle)."""

    mode: Mode

    def __init__(self, app: KioskApp) -> None:
        super().__init__(name=str(self.mode))
        self.app = app
        self.widgets = app.widgets
        self.box = BoxLayout(orientation="vertical", padding=dp(10), spacing=dp(8))
        bar = BoxLayout(size_hint_y=None, height=dp(46), spacing=dp(8))
        self.title = make_label("22sp", halign="left", bold=True, size_hint_x=0.7)
        self.language = self.widgets.add(f"{self.name}.language",
                                      make_button(app.presenter.toggle_language, size_hint_x=0.3, font_size="18sp"))
        bar.add_widget(self.title)
        bar.add_widget(self.language)
        self.box.add_widget(bar)
        self.notice = make_label("17sp", size_hint_y=None, height=dp(30), color=(1, 0.85, 0.4, 1))
        self.add_widget(self.box)
        self.build(app.presenter)
        self.box.add_widget(self.notice)

    def reg(self, key: str, widget: Any) -> Any:
        return self.widgets.add(f"{self.name}.{key}", widget)

    def build(self, presenter: Presenter) -> None:
        raise NotImplementedError

    def render(self, view: View) -> None:
        self.language.text = view.label("language.other")
        self.notice.text = view.notice
        self.fill(view)

    def fill(self, view: View) -> None:
        raise NotImplementedError


class AttractScreen(KioskScreen):
    mode = Mode.ATTRACT

    def build(self, p: Presenter) -> None:
        self.welcome = make_label("44sp", bold=True)
        self.start = self.reg("start", make_button(p.start, "go", font_size="30sp", size_hint=(0.6, None),
                                                  height=dp(110), pos_hint={"center_x": 0.5}))
        self.hint = make_label("18sp", size_hint_y=None, height=dp(40))
        for w in (self.welcome, self.start, self.hint, Widget(size_hint_y=0.3)):
            self.box.add_widget(w)

    def fill(self, view: View) -> None:
        self.title.text = view.label("app.title")
        self.welcome.text = view.label("attract.welcome")
        self.start.text = view.label("attract.start")
        self.hint.text = view.label("attract.hint")


class ShoppingScreen(KioskScreen):
    mode = Mode.SHOPPING

    def build(self, p: Presenter) -> None:
        self.banner = BoxLayout(size_hint_y=None, height=dp(44), spacing=dp(6), padding=(dp(6), 0))
        paint(self.banner, BANNER)
        self.attention = self.reg("attention", make_label("16sp", halign="left", size_hint_x=0.8))
        self.staff = self.reg("staff", make_button(self.app.open_staff_login, font_size="16sp", size_hint_x=0.2))
        self.banner.add_widget(self.attention)
        self.banner.add_widget(self.staff)
        self.box.add_widget(self.banner)

        body = BoxLayout(spacing=dp(10))
        left = BoxLayout(orientation="vertical", size_hint_x=0.64, spacing=dp(4))
        self.empty = make_label("20sp", size_hint_y=None, height=dp(40), color=(0.7, 0.72, 0.76, 1))
        self.cart = self.reg("cart", cart_list())
        totals = BoxLayout(size_hint_y=None, height=dp(48))
        self.count = make_label("18sp", halign="left")
        self.total = self.reg("total", make_label("28sp", halign="right", bold=True))
        totals.add_widget(self.count)
        totals.add_widget(self.total)
        for w in (self.empty, self.cart, totals):
            left.add_widget(w)

        right = BoxLayout(orientation="vertical", size_hint_x=0.36, spacing=dp(8))
        scan_row = BoxLayout(size_hint_y=None, height=dp(48), spacing=dp(6))
        self.scan_input = self.reg("scan_input", TextInput(multiline=False, font_size="18sp", size_hint_x=0.7,
                                                          write_tab=False, text_validate_unfocus=False))
        self.scan_input.bind(on_text_validate=lambda *_: self._scan())
        self.scan_add = self.reg("scan_add", make_button(self._scan, "sim", font_size="18sp", size_hint_x=0.3))
        scan_row.add_widget(self.scan_input)
        scan_row.add_widget(self.scan_add)
        self.produce = self.reg("produce", make_button(self.app.open_produce_picker))
        self.help = self.reg("help", make_button(p.call_help, "help"))
        self.still_here = self.reg("still_here", make_button(p.still_here, "sim"))
        self.pay = self.reg("pay", make_button(p.go_to_payment, "go", font_size="26sp", size_hint_y=1.6))
        for w in (scan_row, self.produce, self.help, self.still_here, self.pay):
            right.add_widget(w)
        body.add_widget(left)
        body.add_widget(right)
        self.box.add_widget(body)

    def _show_last_line(self, _dt: float) -> None:
        content = self.cart.children[0]
        self.cart.scroll_y = 0 if content.height > self.cart.height else 1

    def _scan(self) -> None:
        if self.app.presenter.scan(self.scan_input.text):
            self.scan_input.text = ""
        self.scan_input.focus = True

    def on_enter(self, *args: Any) -> None:
        Clock.schedule_once(lambda _dt: setattr(self.scan_input, "focus", True), 0)

    def fill(self, view: View) -> None:
        self.title.text = view.label("shopping.title")
        show(self.banner, bool(view.attention), collapse=True)
        self.attention.text = view.attention
        self.staff.text = view.label("shopping.staff")
        self.empty.text = view.label("shopping.empty")
        show(self.empty, not view.cart, collapse=True)
        rows = [{"presenter": self.app.presenter, "line_no": r.line_no, "name": r.name, "detail": r.detail,
                 "amount": r.amount, "can_add": r.can_add, "is_discount": r.is_discount,
                 "add_text": view.label("shopping.add_one"), "void_text": view.label("shopping.void")}
                for r in view.cart]
        if rows != self.cart.data:
            grew = len(rows) > len(self.cart.data)
            self.cart.data = rows
            if grew:
                Clock.schedule_once(self._show_last_line, 0)
        self.count.text = view.item_count
        self.total.text = view.total
        self.scan_input.hint_text = view.label("shopping.scan_hint")
        self.scan_add.text = view.label("shopping.scan_add")
        self.produce.text = view.label("shopping.produce")
        self.help.text = view.label("shopping.help")
        self.still_here.text = view.label("shopping.still_here")
        show(self.still_here, view.idle_prompted, collapse=True)
        self.pay.text = view.label("shopping.pay")


class ProduceScreen(KioskScreen):
    mode = Mode.PRODUCE

    def build(self, p: Presenter) -> None:
        self.heading = make_label("26sp", bold=True)
        self.price = make_label("20sp")
        self.weight = self.reg("weight", make_label("24sp"))
        self.amount = make_label("24sp", bold=True)
        self.sim_row = BoxLayout(size_hint_y=None, height=dp(50), spacing=dp(6))
        self.weight_input = self.reg("weight_input", TextInput(multiline=False, font_size="18sp", size_hint_x=0.65,
                                                              input_filter="float", write_tab=False))
        self.weight_input.bind(on_text_validate=lambda *_: self._place())
        self.place = self.reg("place", make_button(self._place, "sim", font_size="18sp", size_hint_x=0.35))
        self.sim_row.add_widget(self.weight_input)
        self.sim_row.add_widget(self.place)
        buttons = BoxLayout(size_hint_y=None, height=dp(70), spacing=dp(10))
        self.confirm = self.reg("confirm", make_button(p.confirm_weight, "go"))
        self.cancel = self.reg("cancel", make_button(p.cancel_produce, "stop"))
        buttons.add_widget(self.cancel)
        buttons.add_widget(self.confirm)
        for w in (self.heading, self.price, self.weight, self.amount, self.sim_row, buttons):
            self.box.add_widget(w)

    def _place(self) -> None:
        self.app.presenter.place_on_scale(self.weight_input.text)

    def fill(self, view: View) -> None:
        self.title.text = view.label("shopping.produce")
        self.heading.text = view.produce_title
        self.price.text = view.produce_price
        self.weight.text = view.produce_weight
        self.amount.text = view.produce_amount
        show(self.sim_row, view.simulate, collapse=True)
        self.weight_input.hint_text = view.label("produce.sim_weight_hint")
        self.place.text = view.label("produce.sim_place")
        self.confirm.text = view.label("produce.confirm")
        self.confirm.disabled = not view.produce_stable
        self.cancel.text = view.label("produce.cancel")


class PaymentSelectionScreen(KioskScreen):
    mode = Mode.PAYMENT_SELECTION

    def build(self, p: Presenter) -> None:
        self.due = self.reg("amount_due", make_label("30sp", bold=True, size_hint_y=None, height=dp(60)))
        self.methods = GridLayout(cols=2, spacing=dp(10))
        self.back = self.reg("back", make_button(p.back_to_shopping, size_hint_y=None, height=dp(60)))
        self._shown: tuple[Any, ...] = ()
        for w in (self.due, self.methods, self.back):
            self.box.add_widget(w)

    def fill(self, view: View) -> None:
        self.title.text = view.label("payment.title")
        self.due.text = view.amount_due
        self.back.text = view.label("payment.back")
        if view.methods != self._shown:
            self._shown = view.methods
            self.methods.clear_widgets()
            for choice in view.methods:
                key = f"{self.name}.method.{choice.key}"
                self.widgets.pop(key, None)
                self.methods.add_widget(self.widgets.add(key, make_button(
                    partial(self.app.presenter.choose_payment, choice.key), "go", text=choice.label)))


class AwaitingPaymentScreen(KioskScreen):
    mode = Mode.AWAITING_PAYMENT

    def build(self, p: Presenter) -> None:
        self.amount = make_label("26sp", bold=True, size_hint_y=None, height=dp(44))
        self.qr = self.reg("qr", Image(fit_mode="contain"))
        self.qr_text = make_label("14sp", size_hint_y=None, height=dp(24), color=(0.7, 0.72, 0.76, 1))
        buttons = BoxLayout(size_hint_y=None, height=dp(60), spacing=dp(10))
        self.cancel = self.reg("cancel", make_button(p.cancel_payment, "stop"))
        self.sim_paid = self.reg("sim_paid", make_button(partial(p.simulate_wallet, "paid"), "sim"))
        self.sim_declined = self.reg("sim_declined", make_button(partial(p.simulate_wallet, "declined"), "sim"))
        for b in (self.cancel, self.sim_declined, self.sim_paid):
            buttons.add_widget(b)
        for w in (self.amount, self.qr, self.qr_text, buttons):
            self.box.add_widget(w)
        self._payload: str | None = None

    def fill(self, view: View) -> None:
        self.title.text = view.awaiting_title
        self.amount.text = view.awaiting_amount
        if view.qr != self._payload:
            self._payload = view.qr
            self.qr.texture = qr_texture(view.qr) if view.qr else None
        self.qr_text.text = view.qr or view.label("awaiting.qr_missing")
        self.cancel.text = view.label("awaiting.cancel")
        self.sim_paid.text = view.label("awaiting.sim_paid")
        self.sim_declined.text = view.label("awaiting.sim_declined")
        show(self.sim_paid, view.simulate)
        show(self.sim_declined, view.simulate)


class StaffForm(BoxLayout):
    """Staff ID, PIN and OK: used on the needs-attendant screen and in the staff popup."""

    def __init__(self, app: KioskApp, prefix: str, on_done: Callable[[], None] | None = None) -> None:
        super().__init__(orientation="vertical", spacing=dp(8), size_hint_y=None, height=dp(170))
        self.app, self.on_done = app, on_done
        reg = app.widgets
        row = BoxLayout(spacing=dp(8))
        self.id_label = make_label("18sp", size_hint_x=0.2)
        self.staff_id = reg.add(f"{prefix}.staff_id", TextInput(multiline=False, font_size="20sp",
                                                                 write_tab=False, size_hint_x=0.3))
        self.pin_label = make_label("18sp", size_hint_x=0.2)
        self.pin = reg.add(f"{prefix}.pin", TextInput(multiline=False, password=True, input_filter="int",
                                                       font_size="20sp", write_tab=False, size_hint_x=0.3))
        self.pin.bind(on_text_validate=lambda *_: self.submit())
        for w in (self.id_label, self.staff_id, self.pin_label, self.pin):
            row.add_widget(w)
        self.login = reg.add(f"{prefix}.login", make_button(self.submit, "go"))
        self.add_widget(row)
        self.add_widget(self.login)

    def submit(self) -> None:
        self.app.presenter.staff_login(self.staff_id.text, self.pin.text)
        self.pin.text = ""  # never keep a PIN on screen
        if self.on_done is not None:
            self.on_done()

    def fill(self, view: View) -> None:
        self.id_label.text = view.label("attendant.staff_id")
        self.pin_label.text = view.label("attendant.pin")
        self.login.text = view.label("attendant.login")
        self.staff_id.hint_text = "S0001"


class NeedsAttendantScreen(KioskScreen):
    mode = Mode.NEEDS_ATTENDANT

    def build(self, p: Presenter) -> None:
        self.reasons = self.reg("reasons", make_label("24sp", bold=True, color=(1, 0.7, 0.3, 1)))
        self.form = StaffForm(self.app, self.name)
        for w in (self.reasons, self.form):
            self.box.add_widget(w)

    def fill(self, view: View) -> None:
        self.title.text = view.label("attendant.title")
        self.reasons.text = view.attention
        self.form.fill(view)
        if view.staff_prefill and not self.form.staff_id.text:
            self.form.staff_id.text = view.staff_prefill


class StaffScreen(KioskScreen):
    mode = Mode.STAFF

    def build(self, p: Presenter) -> None:
        grid = GridLayout(cols=2, spacing=dp(10))
        self.actions = {a: self.reg(a, make_button(partial(p.staff_action, a), "stop" if a == "cancel_sale" else "plain"))
                        for a in STAFF_ACTIONS}
        for button in self.actions.values():
            grid.add_widget(button)
        self.box.add_widget(grid)

    def fill(self, view: View) -> None:
        self.title.text = view.staff_title
        for action, button in self.actions.items():
            button.text = view.label(f"staff.{action}")


class ReceiptScreen(KioskScreen):
    mode = Mode.RECEIPT

    def build(self, p: Presenter) -> None:
        self.thanks = make_label("34sp", bold=True)
        self.paid = self.reg("paid", make_label("26sp"))
        row = BoxLayout(size_hint_y=None, height=dp(80), spacing=dp(10))
        self.choices = {c: self.reg(c, make_button(partial(p.choose_receipt, c), "go" if c == "print" else "plain"))
                        for c in RECEIPT_CHOICES}
        for button in self.choices.values():
            row.add_widget(button)
        for w in (self.thanks, self.paid, row):
            self.box.add_widget(w)

    def fill(self, view: View) -> None:
        self.title.text = view.label("app.title")
        self.thanks.text = view.label("receipt.title")
        self.paid.text = view.paid
        for choice, button in self.choices.items():
            button.text = view.label(f"receipt.{choice}")


class FeedbackScreen(KioskScreen):
    mode = Mode.FEEDBACK

    def build(self, p: Presenter) -> None:
        self.question = make_label("28sp", bold=True)
        row = BoxLayout(size_hint_y=None, height=dp(90), spacing=dp(10))
        self.scores = {s: self.reg(str(s), make_button(partial(p.give_feedback, s), "go" if s >= 4 else "plain",
                                                      font_size="28sp")) for s in range(1, 6)}
        for button in self.scores.values():
            row.add_widget(button)
        self.receipt_qr = self.reg("receipt_qr", Image(fit_mode="contain", size_hint_y=0.8))
        self.receipt_qr_text = make_label("16sp", size_hint_y=None, height=dp(24))
        self._receipt_payload: str | None = None
        for w in (self.receipt_qr, self.receipt_qr_text, self.question, row, Widget(size_hint_y=0.1)):
            self.box.add_widget(w)

    def fill(self, view: View) -> None:
        self.title.text = view.label("app.title")
        self.question.text = view.label("feedback.title")
        if view.receipt_qr != self._receipt_payload:
            self._receipt_payload = view.receipt_qr
            self.receipt_qr.texture = qr_texture(view.receipt_qr) if view.receipt_qr else None
        self.receipt_qr.opacity = 1 if view.receipt_qr else 0
        self.receipt_qr_text.text = view.label("receipt.qr_hint") if view.receipt_qr else ""
        for score, button in self.scores.items():
            button.text = view.labels["feedback.score"].format(score=score)


class ClosedScreen(KioskScreen):
    mode = Mode.CLOSED

    def build(self, p: Presenter) -> None:
        self.heading = make_label("34sp", bold=True)
        self.hint = make_label("20sp")
        self.box.add_widget(self.heading)
        self.box.add_widget(self.hint)

    def fill(self, view: View) -> None:
        self.title.text = view.label("app.title")
        self.heading.text = view.label("closed.title")
        self.hint.text = view.label("closed.hint")


SCREENS: tuple[type[KioskScreen], ...] = (
    AttractScreen, ShoppingScreen, ProduceScreen, PaymentSelectionScreen, AwaitingPaymentScreen,
    NeedsAttendantScreen, StaffScreen, ReceiptScreen, FeedbackScreen, ClosedScreen,
)


# -- popups --------------------------------------------------------------------------------------

class KioskPopup(Popup):
    def close_now(self) -> None:
        """Close without the fade: during a fade the popup still takes the next tap."""
        self.dismiss(animation=False)


class ProducePicker(KioskPopup):
    def __init__(self, app: KioskApp) -> None:
        super().__init__(size_hint=(0.92, 0.9), auto_dismiss=True, title_size="20sp")
        self.app = app
        box = BoxLayout(orientation="vertical", spacing=dp(8))
        self.grid = GridLayout(cols=3, spacing=dp(6), size_hint_y=None, row_default_height=dp(64),
                               row_force_default=True)
        self.grid.bind(minimum_height=self.grid.setter("height"))
        scroll = ScrollView()
        scroll.add_widget(self.grid)
        self.empty = make_label("18sp", size_hint_y=None, height=dp(30))
        self.close = app.widgets.add("produce_picker.close", make_button(self.close_now, size_hint_y=None,
                                                                         height=dp(52)))
        for w in (self.empty, scroll, self.close):
            box.add_widget(w)
        self.content = box
        self._shown: tuple[Any, ...] | None = None

    def fill(self, view: View) -> None:
        self.title = view.label("produce.pick_title")
        self.close.text = view.label("produce.pick_close")
        self.empty.text = "" if view.produce_choices else view.label("produce.none")
        self.empty.height = 0 if view.produce_choices else dp(30)
        if view.produce_choices == self._shown:
            return
        self._shown = view.produce_choices
        self.grid.clear_widgets()
        for choice in view.produce_choices:
            key = f"produce_picker.{choice.key}"
            self.app.widgets.pop(key, None)
            self.grid.add_widget(self.app.widgets.add(key, make_button(
                partial(self._choose, choice.key), font_size="17sp", text=f"{choice.label}\n{choice.detail}")))

    def _choose(self, plu: str) -> None:
        self.close_now()
        self.app.presenter.choose_produce(plu)


class StaffPopup(KioskPopup):
    def __init__(self, app: KioskApp) -> None:
        super().__init__(size_hint=(0.8, 0.6), auto_dismiss=True, title_size="20sp")
        self.form = StaffForm(app, "staff_popup", on_done=self.close_now)
        box = BoxLayout(orientation="vertical", spacing=dp(8))
        box.add_widget(self.form)
        self.close = app.widgets.add("staff_popup.close", make_button(self.close_now, size_hint_y=None, height=dp(50)))
        box.add_widget(self.close)
        self.content = box

    def fill(self, view: View) -> None:
        self.title = view.label("attendant.staff_title")
        self.close.text = view.label("attendant.close")
        self.form.fill(view)


# -- the app -------------------------------------------------------------------------------------

class KioskApp(App):
    def __init__(self, lane: Any, presenter: Presenter, **kw: Any) -> None:
        super().__init__(**kw)
        self.lane = lane
        self.presenter = presenter
        self.widgets = Registry()
        self.view: View | None = None
        self.screens: dict[str, KioskScreen] = {}
        self._poll: Any = None
        presenter.on_notice = lambda: Clock.schedule_once(self.refresh, 0)

    def build(self) -> ScreenManager:
        self.title = "kiosk"
        Window.clearcolor = BACKGROUND
        manager = ScreenManager(transition=NoTransition())
        for cls in SCREENS:
            screen = cls(self)
            self.screens[screen.name] = screen
            manager.add_widget(screen)
        self.produce_picker = ProducePicker(self)
        self.staff_popup = StaffPopup(self)
        return manager

    def widget(self, key: str) -> Widget:
        return self.widgets[key]

    def on_start(self) -> None:
        self.lane.listeners.append(self._from_core)
        self._poll = Clock.schedule_interval(self.refresh, POLL_S)
        self.refresh()

    def on_stop(self) -> None:
        if self._from_core in self.lane.listeners:
            self.lane.listeners.remove(self._from_core)
        if self._poll is not None:
            self._poll.cancel()

    def _from_core(self, event: dict[str, Any]) -> None:
        """A lane listener: runs on the core thread, so it only hands the event to Kivy's thread."""
        Clock.schedule_once(partial(self._on_lane_event, event), 0)

    def _on_lane_event(self, event: dict[str, Any], _dt: float) -> None:
        self.presenter.observe(event)
        self.refresh()

    def refresh(self, *_: Any) -> None:
        view = self.presenter.view()
        if view == self.view:
            return
        before, self.view = self.view, view
        manager = self.root
        if manager.current != view.screen:
            manager.current = view.screen
        self.screens[view.screen].render(view)
        if self.produce_picker.parent is not None:
            if view.screen != Mode.SHOPPING:
                self.produce_picker.close_now()
            else:
                self.produce_picker.fill(view)
        if self.staff_popup.parent is not None:
            if view.screen not in (Mode.SHOPPING, Mode.PRODUCE, Mode.PAYMENT_SELECTION):
                self.staff_popup.close_now()
            else:
                self.staff_popup.fill(view)
        elif view.staff_prefill and view.screen == Mode.SHOPPING and (
                before is None or before.staff_prefill != view.staff_prefill):
            self.open_staff_login(view.staff_prefill)

    def open_produce_picker(self) -> None:
        if self.view is not None:
            self.produce_picker.fill(self.view)
        self.produce_picker.open()

    def open_staff_login(self, staff_id: str = "") -> None:
        if self.view is not None:
            self.staff_popup.fill(self.view)
        self.staff_popup.form.staff_id.text = staff_id
        self.staff_popup.open()
