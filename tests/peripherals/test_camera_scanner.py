"""The camera scanner end to end (real capture, decode and accept threads) through faults:
one pack with two symbols, a USB hiccup under a product held still, a reopen that throws."""

from __future__ import annotations

import numpy as np

from kiosk.events import Scanned
from kiosk.peripherals.camera import CameraScanner, SourceEnded, SyntheticSource
from tests.peripherals.test_camera_capture import Events, ended
from tests.peripherals.test_camera_decoder import F, frame_with, symbol

PACK_EAN = symbol("9501101531000", F.EAN13, 2)
PACK_QR = symbol("https://id.gs1.org/01/09501101531000", F.QRCode, 4)


def test_one_pack_with_an_ean13_and_a_digital_link_qr_is_one_scan():
    both = frame_with((PACK_EAN, 40, 150), (PACK_QR, 400, 150))
    events = Events()
    with CameraScanner(SyntheticSource.from_frames([both] * 30, fps=30), events):
        events.wait_for(ended(events))
    scans = [e for e in events.items if isinstance(e, Scanned)]
    assert len(scans) == 1
    assert scans[0].text in ("9501101531000", "https://id.gs1.org/01/09501101531000")


def test_a_product_held_still_through_a_usb_hiccup_is_scanned_once():
    held = frame_with((PACK_EAN, 150, 150))

    def make(n: int) -> np.ndarray | None:
        if n >= 60:
            raise SourceEnded("synthetic")
        return None if 30 <= n < 33 else held  # three failed reads: the capture reconnects

    events = Events()
    with CameraScanner(SyntheticSource(make, fps=30), events) as camera:
        camera.capture.backoff = (0.02, 0.05)
        events.wait_for(ended(events))
    assert ("fault", "unplugged") in events.states()
    assert events.states().count(("ok", "")) == 2
    assert events.scans() == ["9501101531000"]
