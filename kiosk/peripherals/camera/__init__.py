"""Camera barcode and QR scanning.

Layout (each module short enough to read at once):

- ``engines``: zbar and zxing-cpp behind one face, restricted to retail formats; ``Code``
- ``regions``: where the codes probably are (gradient structure tensor), straightened crops
- ``decoder``: ``Decoder``, the measured pipeline (bench/decode); ``kiosk decode`` uses it too
- ``acceptor``: ``Acceptor``, pure consensus / re-scan / admissibility rules
- ``capture``: ``FrameCapture`` thread over an ``OpenCVSource`` or ``SyntheticSource``
- ``preview``: ``Preview`` frames for the UI's aiming view
- ``scanner``: ``CameraScanner``, capture -> decode -> ``Scanned`` events

The core starts the camera with ``open_camera(config.camera, post, barcodes=config.barcodes)``
and closes it on shutdown; the UI polls ``camera.preview()``; health reads ``camera.health()``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kiosk.config import BarcodesSection, CameraSection
from kiosk.events import Post

if TYPE_CHECKING:
    from kiosk.peripherals.camera.acceptor import Accepted, Acceptor, admissible, clean_text
    from kiosk.peripherals.camera.capture import (
        Frame,
        FrameCapture,
        FrameSource,
        OpenCVSource,
        SourceEnded,
        SyntheticSource,
    )
    from kiosk.peripherals.camera.decoder import Decoder, Pipeline, to_gray
    from kiosk.peripherals.camera.engines import RETAIL, Code
    from kiosk.peripherals.camera.preview import Preview, make_preview
    from kiosk.peripherals.camera.scanner import CameraScanner, Decoded

# OpenCV, zbar and zxing-cpp load only when something from them is used: the HID scanner shares
# the acceptor's text rules without paying for them.
_LAZY = {
    "Accepted": "acceptor", "Acceptor": "acceptor", "admissible": "acceptor", "clean_text": "acceptor",
    "Frame": "capture", "FrameCapture": "capture", "FrameSource": "capture", "OpenCVSource": "capture",
    "SourceEnded": "capture", "SyntheticSource": "capture",
    "Decoder": "decoder", "Pipeline": "decoder", "to_gray": "decoder",
    "RETAIL": "engines", "Code": "engines",
    "Preview": "preview", "make_preview": "preview",
    "CameraScanner": "scanner", "Decoded": "scanner",
}

__all__ = [
    "RETAIL", "Accepted", "Acceptor", "CameraScanner", "Code", "Decoded", "Decoder", "Frame", "FrameCapture",
    "FrameSource", "OpenCVSource", "Pipeline", "Preview", "SourceEnded", "SyntheticSource", "admissible",
    "clean_text", "make_preview", "open_camera", "to_gray",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def open_camera(section: CameraSection, post: Post, *, barcodes: BarcodesSection | None = None,
                source: FrameSource | None = None, start: bool = True, **options: Any) -> CameraScanner:
    """The camera scanner as configured, started unless ``start=False``. Close it when done.

    A missing camera is not an error here: the capture thread keeps retrying with backoff and
    posts ``DeviceState("camera", "fault", "unplugged")`` until it appears.
    """
    from kiosk.peripherals.camera.scanner import CameraScanner

    camera = CameraScanner.from_config(section, post, barcodes=barcodes, source=source, **options)
    return camera.start() if start else camera
