"""The lane's core thread: events from many threads, one owner of state, effects in order."""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.catalog import load_demo
from kiosk.clock import SimClock
from kiosk.db import connect
from kiosk.events import DeviceState, Scanned
from kiosk.flows import events as ev
from kiosk.lane import Lane
from kiosk.simulator import simulator_config


def make_lane(tmp_path, **overrides):
    conn = connect(tmp_path / "kiosk.db")
    load_demo(conn)
    clock = SimClock()
    lane = Lane(simulator_config(None, None), conn, clock, demo_staff=True)
    seen: list[dict] = []
    lane.listeners.append(seen.append)
    return lane, clock, seen, conn


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_events_from_many_threads_are_handled_one_at_a_time(tmp_path):
    lane, clock, seen, _ = make_lane(tmp_path)
    lane.start(tick_interval_s=0.05)
    try:
        def shopper():
            for _ in range(50):
                lane.post(Scanned("6901234567892", source="camera"))

        threads = [threading.Thread(target=shopper) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wait_for(lambda: lane.flow.state.cart.item_count == 200)
        assert len(lane.flow.state.cart.lines) == 1
        assert sum(1 for e in seen if e["event"] in ("item.added", "item.quantity")) == 200
    finally:
        lane.stop()


def test_core_thread_ticks_drive_timeouts(tmp_path):
    lane, clock, seen, _ = make_lane(tmp_path)
    lane.start(tick_interval_s=0.02)
    try:
        lane.post(Scanned("6901234567892"))
        assert wait_for(lambda: any(e["event"] == "item.added" for e in seen))
        clock.advance(91)  # past "are you still there?" and the abandon time
        assert wait_for(lambda: any(e["event"] == "idle.prompt" for e in seen))
        clock.advance(31)
        assert wait_for(lambda: any(e["event"] == "cart.abandoned" for e in seen))
    finally:
        lane.stop()
    rows = lane.sales.audit(kind="cart.abandoned")
    assert len(rows) == 1


def test_a_sale_that_cannot_be_stored_is_never_announced(tmp_path):
    lane, clock, seen, conn = make_lane(tmp_path)
    lane.handle(Scanned("6901234567892"))
    lane.handle(ev.ChoosePayment("sim"))
    order = lane.flow.state.payment
    conn.execute("DROP TABLE payments")  # the disk "fails" under the store
    lane.handle(ev.PaymentResult(order.order_id, "paid", amount_fen=order.amount.fen))
    assert not any(e["event"] == "sale.completed" for e in seen)
    lane.process_pending()
    assert any(e["event"] == "device.state" and e["device"] == "store" and e["state"] == "fault" for e in seen)
    assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 0


def test_a_failing_listener_does_not_stop_the_lane(tmp_path):
    lane, clock, seen, _ = make_lane(tmp_path)

    def broken(event):
        raise RuntimeError("screen crashed")

    lane.listeners.insert(0, broken)
    lane.handle(Scanned("6901234567892"))
    assert lane.flow.state.cart.item_count == 1 and any(e["event"] == "item.added" for e in seen)


def test_device_fault_raises_a_fleet_alert(tmp_path):
    lane, clock, seen, _ = make_lane(tmp_path)
    alerts = []

    class Telemetry:
        def set_alert(self, name, payload):
            alerts.append((name, payload))

        def notify_outbox(self):
            pass

    lane.telemetry = Telemetry()
    lane.handle(DeviceState("printer", "warning", "paper_near_end"))
    lane.handle(DeviceState("printer", "ok"))
    assert alerts == [("printer", {"device": "printer", "state": "warning", "reason": "paper_near_end"}),
                      ("printer", None)]


def test_a_slow_printer_does_not_hold_up_the_next_shopper(tmp_path):
    lane, clock, seen, _ = make_lane(tmp_path)
    release = threading.Event()
    printed = []

    class SlowPrinter:
        def print_receipt(self, sale, job_id):
            release.wait(10)
            printed.append(job_id)

    lane.printer = SlowPrinter()
    lane.print_in_background()
    lane.start(tick_interval_s=0.05)
    try:
        lane.post(Scanned("6901234567892"))
        lane.post(ev.ChoosePayment("sim"))
        assert wait_for(lambda: lane.flow.state.payment is not None)
        order = lane.flow.state.payment
        lane.post(ev.PaymentResult(order.order_id, "paid", amount_fen=order.amount.fen))
        lane.post(ev.ChooseReceipt("print"))
        lane.post(ev.GiveFeedback(5))
        lane.post(Scanned("6924743001015"))  # the next shopper, while the receipt is still printing
        assert wait_for(lambda: lane.flow.state.cart.item_count == 1 and lane.flow.state.sale_id != order.order_id)
        assert printed == []
        release.set()
        assert wait_for(lambda: len(printed) == 1)
    finally:
        release.set()
        lane.stop()


def test_a_real_lane_without_staff_accounts_accepts_no_demo_badge(tmp_path):
    conn = connect(tmp_path / "kiosk.db")
    load_demo(conn)
    lane = Lane(simulator_config(None, None), conn, SimClock())  # not a simulation
    seen: list[dict] = []
    lane.listeners.append(seen.append)
    lane.handle(Scanned("6901285001017"))  # beer: age check
    lane.handle(ev.StaffLogin("S0001", "2468"))
    assert seen[-1]["event"] == "staff.denied" and lane.flow.state.interventions


def test_a_call_that_timed_out_never_runs_later(tmp_path):
    lane, clock, seen, _ = make_lane(tmp_path)
    busy = threading.Event()
    lane.start(tick_interval_s=0.05)
    try:
        started = threading.Event()

        def hold():
            started.set()
            busy.wait(5)

        threading.Thread(target=lambda: lane.call(hold, timeout=10), daemon=True).start()
        assert started.wait(5)
        ran = []
        with pytest.raises(TimeoutError, match="nothing was done"):
            lane.call(lambda: ran.append(True), timeout=0.2)
        busy.set()
        time.sleep(0.3)
        assert ran == []
    finally:
        busy.set()
        lane.stop()
