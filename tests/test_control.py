"""LaneControl: the fleet's commands carried out on a running lane (core thread, real SQLite)."""

from __future__ import annotations

import pytest

from kiosk.catalog import Catalog, load_demo
from kiosk.clock import SimClock
from kiosk.config import load_config
from kiosk.control import LaneControl
from kiosk.db import connect
from kiosk.events import Scanned
from kiosk.flows.checkout import Mode
from kiosk.flows.events import StaffLogin
from kiosk.lane import Lane
from kiosk.money import Money
from kiosk.simulator import simulator_config
from kiosk.telemetry.payloads import PriceChange


@pytest.fixture
def running(tmp_path):
    db = tmp_path / "kiosk.db"
    conn = connect(db)
    load_demo(conn)
    lane = Lane(simulator_config(None, None), conn, SimClock(), demo_staff=True)
    lane.start(tick_interval_s=0.05)
    yield lane, LaneControl(lane, db), db
    lane.stop()


def test_lock_waits_for_the_shopper_then_closes(running):
    lane, control, _ = running
    lane.post(Scanned("6901234567892"))
    control.lock("stocktake", "fleet-admin")
    snap = control.snapshot()
    assert snap["mode"] == "shopping" and snap["lock_pending"] and snap["items"] == 1
    control.unlock("fleet-admin")
    assert not control.snapshot()["lock_pending"]
    lane.call(lambda: lane.handle(StaffLogin("S0001", "2468")))
    control.lock("closing", "fleet-admin")
    assert lane.call(lambda: lane.flow.state.lock_pending)


def test_lock_an_idle_lane_closes_it_now(running):
    lane, control, _ = running
    control.lock("cleaning", "fleet")
    assert lane.call(lambda: lane.flow.state.mode) is Mode.CLOSED
    control.unlock("fleet")
    assert lane.call(lambda: lane.flow.state.mode) is Mode.ATTRACT


def test_set_prices_is_all_or_nothing(running):
    lane, control, db = running
    assert control.set_prices([PriceChange("06901234567892", None, Money(399)), PriceChange(None, "4011", Money(750))]) == 2
    catalog = Catalog(connect(db))
    assert catalog.by_gtin("06901234567892").price == Money(399)
    with pytest.raises(ValueError, match="no price was changed"):
        control.set_prices([PriceChange("06901234567892", None, Money(1)), PriceChange(None, "99999", Money(1))])
    assert catalog.by_gtin("06901234567892").price == Money(399)
    lane.post(Scanned("6901234567892"))
    assert lane.call(lambda: lane.flow.state.cart.total) == Money(399), "new prices apply to the next scan"


def test_restart_is_refused_in_a_simulation_and_asks_the_supervisor_otherwise(running):
    lane, control, db = running
    with pytest.raises(ValueError):
        control.restart()
    asked = []
    supervised = LaneControl(lane, db, on_restart=lambda: asked.append(True))
    supervised.restart()
    assert asked == [True] and supervised.restart_requested.is_set()


def test_apply_config_live_keys_only(running):
    lane, control, _ = running
    new = load_config(None, {"timeouts": {"payment_s": 300}, "scale": {"protocol": "cas"}})
    applied = control.apply_config(new, ["timeouts.payment_s", "scale.protocol"])
    assert applied == ["timeouts.payment_s"]
    assert lane.call(lambda: lane.flow.config.timeouts.payment_s) == 300
    assert lane.call(lambda: lane.flow.config.scale.protocol) == "toledo8217"


def test_reload_catalog_and_log_tail(running):
    _, control, _ = running
    assert control.reload_catalog() >= 150
    assert isinstance(control.log_tail(10), list)
