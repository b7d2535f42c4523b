"""Run a scenario headless: the whole core on simulated devices and a simulated clock.

Each step becomes the event a real device, shopper, attendant or wallet would post; the lane's
events are passed to ``on_event`` as they happen. A step that cannot run ends the run with an
``error`` event naming the step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk import catalog as catalog_io
from kiosk.clock import SimClock
from kiosk.config import Config, load_config, merge
from kiosk.db import connect
from kiosk.errors import ScenarioError, StoreError, UserError
from kiosk.events import ScaleRole, Scanned, WeightReading
from kiosk.flows import events as ev
from kiosk.flows.checkout import Mode
from kiosk.lane import Lane
from kiosk.payments.simulated import SimulatedWallet
from kiosk.scenario import Scenario, Step

# The simulator always offers the simulated wallet; bagging security is off unless the config file
# or the scenario turns it on (DESIGN 3.2).
SIMULATOR_CONFIG: dict[str, Any] = {"payments": {"simulated": True}}
SIMULATOR_DEFAULTS: dict[str, Any] = {
    "security": {"enabled": False},
    "coupons": {"accepted": ["C-FULL100-10", "C-FULL50-5", "C-OFF5", "C-PCT10"]},  # the demo store's coupons
}
STEP_SECONDS = 1.0  # simulated time a shopper takes for one step


@dataclass
class SimulationResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    @property
    def sales(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == "sale.completed"]


def simulator_config(config_path: str | None, scenario: Scenario | None) -> Config:
    overrides = SIMULATOR_CONFIG
    if scenario is not None and scenario.config:
        overrides = merge(overrides, scenario.config)
    return load_config(config_path, overrides, defaults=SIMULATOR_DEFAULTS)


class Simulator:
    def __init__(self, config: Config, conn: sqlite3.Connection, *, catalog_csv: Path | None = None,
                 on_event: Callable[[dict[str, Any]], None] | None = None, clock: SimClock | None = None) -> None:
        self.config = config
        self.clock = clock or SimClock()
        if catalog_csv is not None:
            catalog_io.import_csv(conn, catalog_csv)
        else:
            catalog_io.load_demo(conn)
        self.lane = Lane(config, conn, self.clock, demo_staff=True)
        self.wallet = SimulatedWallet()
        self.lane.payments = self.wallet
        self.result = SimulationResult()
        self._on_event = on_event
        self.lane.listeners.append(self._record)
        self.bag_g = 0

    def _record(self, event: dict[str, Any]) -> None:
        self.result.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    @property
    def flow_state(self) -> Any:
        return self.lane.flow.state

    def run(self, scenario: Scenario) -> SimulationResult:
        for step in scenario.steps:
            try:
                self.step(step)
            except ScenarioError as exc:
                self.fail(step, str(exc))
                return self.result
        # Let a sale that ended the scenario finish as it would at the kiosk (default receipt).
        if self.flow_state.mode in (Mode.RECEIPT, Mode.FEEDBACK):
            self.wait(max(self.config.timeouts.receipt_s, self.config.timeouts.feedback_s) + 1)
        return self.result

    def fail(self, step: Step | None, message: str) -> None:
        error: dict[str, Any] = {"event": "error", "message": message}
        if step is not None:
            error.update(step=step.number, kind=step.kind)
        self.result.error = error
        self._record(error)

    def post(self, *events: object) -> None:
        for event in events:
            self.lane.post(event)
        self.lane.process_pending()

    def wait(self, seconds: float) -> None:
        whole, rest = divmod(seconds, 1.0)
        for _ in range(int(whole)):
            self.clock.advance(1.0)
            self.post(ev.Tick())
        if rest:
            self.clock.advance(rest)
            self.post(ev.Tick())

    def step(self, step: Step) -> None:
        state = self.flow_state
        kind, value = step.kind, step.value
        self.clock.advance(STEP_SECONDS)

        def cannot(reason: str) -> ScenarioError:
            return ScenarioError(f"{step.describe()} cannot run: {reason}")

        match kind:
            case "scan":
                self.post(Scanned(value, source="sim"))
            case "plu":
                self.post(ev.ChooseProduce(value))
            case "weigh":
                if state.mode is not Mode.PRODUCE:
                    raise cannot("no produce item is waiting to be weighed (use a `plu` step first)")
                grams = round(value * 1000)
                self.post(WeightReading(ScaleRole.PRODUCE, grams, True, "ok"), ev.ConfirmWeight())
            case "bag":
                if value == "auto":
                    self.bag_g = state.bagging.expected_now_g()
                else:
                    self.bag_g = max(self.bag_g + round(value * 1000), 0)
                self.post(WeightReading(ScaleRole.BAGGING, self.bag_g, True, "ok"))
            case "qty":
                if not state.cart.item_lines:
                    raise cannot("the cart has no line to change")
                self.post(ev.SetQuantity(value))
            case "void":
                if state.cart.line(value) is None:
                    raise cannot(f"the cart has no line {value}")
                self.post(ev.RequestVoid(value))
            case "staff":
                badge, pin = value.split(":", 1)
                self.post(ev.StaffLogin(badge, pin))
            case "member":
                self.post(ev.IdentifyMember(value))
            case "coupon":
                self.post(ev.ApplyCoupon(value))
            case "help":
                self.post(ev.CallHelp())
            case "still_here":
                self.post(ev.StillHere())
            case "start":
                self.post(ev.Start())
            case "language":
                self.post(ev.SetLanguage(value))
            case "lock":
                self.post(ev.RemoteLock(value, by="scenario"))
            case "wait":
                self.wait(value)
            case "pay":
                if state.mode not in (Mode.SHOPPING, Mode.PAYMENT_SELECTION, Mode.PRODUCE):
                    raise cannot(f"the kiosk is in {state.mode}, not shopping")
                self.post(ev.ChoosePayment(value))
                if self.flow_state.mode is not Mode.AWAITING_PAYMENT and self.flow_state.mode is not Mode.RECEIPT:
                    reason = next((e.get("reason") for e in reversed(self.result.events)
                                   if e["event"] in ("payment.blocked", "payment.rejected")), "refused")
                    raise cannot(f"payment did not start ({reason})")
            case "wallet":
                pending = state.payment
                if state.mode is not Mode.AWAITING_PAYMENT or pending is None:
                    raise cannot("no payment is waiting for the wallet (use a `pay` step first)")
                if value == "paid":
                    self.post(ev.PaymentResult(pending.order_id, "paid", reference=f"SIM-{pending.order_id}",
                                               amount_fen=pending.amount.fen))
                elif value == "declined":
                    self.post(ev.PaymentResult(pending.order_id, "declined"))
                elif value == "timeout":
                    self.wait(self.config.timeouts.payment_s)
                else:
                    self.post(ev.CancelPayment())
            case "receipt":
                if state.mode is not Mode.RECEIPT:
                    raise cannot("there is no completed sale waiting for a receipt choice")
                self.post(ev.ChooseReceipt(value))
            case "feedback":
                if state.mode not in (Mode.RECEIPT, Mode.FEEDBACK):
                    raise cannot("there is no completed sale to give feedback on")
                if value > 5:
                    raise cannot("feedback is a score from 1 to 5")
                self.post(ev.GiveFeedback(value))
            case _:  # parse_scenario admits only the kinds above
                raise cannot("unknown step kind")


def open_database(db: str | None) -> sqlite3.Connection:
    """The simulator's database: a file when given (kept between runs), else in memory."""
    try:
        return connect(db or ":memory:")
    except StoreError as exc:
        raise UserError(str(exc)) from None
