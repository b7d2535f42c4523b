"""The aiming preview: a small copy of the camera frame with the codes outlined.

Built only when the UI asks (``CameraScanner.preview()``), on the UI's own schedule, so a
kiosk that shows no preview pays nothing for it. Outlines: green for a code accepted as a scan
(or already added and still in view), amber for a code read but still waiting for its second
frame, so the shopper sees the kiosk has found the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.peripherals.camera.engines import Code

GREEN = (60, 200, 60)  # BGR
AMBER = (0, 170, 255)


@dataclass(frozen=True, slots=True)
class Preview:
    image: np.ndarray  # BGR (or RGB when asked), uint8, height x width x 3
    codes: tuple[Code, ...]  # outlines in preview coordinates
    seq: int  # the camera frame it shows
    ts: float  # that frame's capture time
    scale: float  # preview pixels per frame pixel


def make_preview(frame: np.ndarray, codes: Iterable[Code], *, width: int = 320, accepted: Iterable[str] = (),
                 seq: int = 0, ts: float = 0.0, rgb: bool = False) -> Preview:
    """Downscale ``frame`` to ``width`` pixels wide (never up) and draw the code outlines."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    h, w = frame.shape[:2]
    scale = min(1.0, width / w) if w else 1.0
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    image = cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if scale < 1 else frame.copy()
    done = set(accepted)
    matrix = np.array([[scale, 0, 0], [0, scale, 0]], np.float64)
    shown = []
    for code in codes:
        small = code.moved(matrix)
        shown.append(small)
        if len(small.polygon) >= 2:
            pts = np.asarray(small.polygon, np.int32).reshape(-1, 1, 2)
            colour = GREEN if code.text in done else AMBER
            cv2.polylines(image, [pts], True, colour, 2, cv2.LINE_AA)
    if rgb:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return Preview(image, tuple(shown), seq, ts, scale)
