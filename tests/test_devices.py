"""The configured devices plugged into a running lane: a camera fed by a video file showing a real
EAN-13, a Toledo scale on a pty, a file printer, GPIO on mock pins. No UI, no mocks of our own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp

from kiosk.catalog import load_demo
from kiosk.clock import utc_now
from kiosk.config import load_config
from kiosk.db import connect
from kiosk.devices import KioskDevices, SimulatedDevices
from kiosk.events import ScaleRole
from kiosk.flows import events as ev
from kiosk.lane import Lane

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def cola_video(path: Path) -> Path:
    """Three seconds of a can's barcode held under the camera, after a second of empty counter."""
    code = np.array(zxingcpp.write_barcode_to_image(
        zxingcpp.create_barcode("6901234567892", zxingcpp.BarcodeFormat.EAN13), scale=3, add_quiet_zones=True))
    frame = np.full((480, 640, 3), 200, np.uint8)
    h, w = code.shape[:2]
    y, x = (480 - h) // 2, (640 - w) // 2
    shown = frame.copy()
    shown[y:y + h, x:x + w] = cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(120):
        writer.write(frame if i < 30 else shown)
    writer.release()
    return path


@pytest.fixture
def scale_link(tmp_path):
    link = tmp_path / "scale"
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "scale", "emulate", "--protocol", "toledo8217",
                             "--link", str(link)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    assert wait_for(link.exists, 10)
    yield link, proc
    proc.terminate()
    proc.wait(5)


def test_configured_devices_drive_the_lane(tmp_path, scale_link):
    link, scale_proc = scale_link
    receipts = tmp_path / "receipts.bin"
    config = load_config(None, {
        "kiosk": {"data_dir": str(tmp_path)},
        "camera": {"device": str(cola_video(tmp_path / "camera.avi"))},
        "scale": {"port": str(link)},
        "security": {"enabled": False},
        "printer": {"uri": f"file:{receipts}"},
        "gpio": {"pin_factory": "mock"},
        "payments": {"simulated": True},
    })
    conn = connect(tmp_path / "kiosk.db")
    load_demo(conn)
    lane = Lane(config, conn, utc_now)
    seen: list[dict] = []
    lane.listeners.append(seen.append)
    devices = KioskDevices().start(config, lane)
    lane.start(tick_interval_s=0.1)
    try:
        # the camera reads the can: one line, added once although the code stays in view for 3 s
        assert wait_for(lambda: any(e["event"] == "item.added" for e in seen)), [e["event"] for e in seen]
        time.sleep(1.0)
        added = [e for e in seen if e["event"] in ("item.added", "item.quantity")]
        assert len(added) == 1 and added[0]["gtin"] == "06901234567892"
        # the shopper weighs bananas on the real (emulated) Toledo scale
        lane.post(ev.ChooseProduce("4011"))
        scale_proc.stdin.write(b"0.512\n")
        scale_proc.stdin.flush()
        assert wait_for(lambda: (r := lane.flow.state.produce_reading) is not None and r.stable
                        and r.weight_g == 512 and r.role is ScaleRole.PRODUCE)
        lane.post(ev.ConfirmWeight())
        assert wait_for(lambda: lane.flow.state.cart.item_count == 2)
        lane.post(ev.ChoosePayment("sim"))
        assert wait_for(lambda: lane.flow.state.payment is not None)
        order = lane.flow.state.payment
        lane.post(ev.PaymentResult(order.order_id, "paid", amount_fen=order.amount.fen))
        lane.post(ev.ChooseReceipt("print"))
        assert wait_for(lambda: receipts.exists() and b"\x1d\x56" in receipts.read_bytes())
        assert devices.gpio.light.signal == "open" and devices.gpio.light.lamp("green").is_lit
        health = devices.health()
        assert health["camera"]["fps"] > 0 and health["scale"]["state"] == "ok"
    finally:
        lane.stop()
        devices.close()
        conn.close()


def test_simulated_devices_speak_the_scale_protocol(tmp_path):
    config = load_config(None, {"payments": {"simulated": True}, "security": {"enabled": True}})
    conn = connect(":memory:")
    load_demo(conn)
    lane = Lane(config, conn, utc_now)
    devices = SimulatedDevices().start(config, lane, receipts_dir=tmp_path / "receipts")
    lane.start(tick_interval_s=0.1)
    try:
        assert [s.device for s in devices.scales] == ["scale", "bagging_scale"]
        lane.post(ev.ChooseProduce("4131"))
        devices.place_produce(1234)
        assert wait_for(lambda: (r := lane.flow.state.produce_reading) is not None and r.stable and r.weight_g == 1234)
        assert devices.scales[0].simulator.requests, "the kiosk polled the simulated scale over serial"
    finally:
        lane.stop()
        devices.close()
        conn.close()
