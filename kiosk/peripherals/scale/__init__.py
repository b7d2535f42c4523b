"""Serial weighing scales: protocol plug-ins over one transport, two roles, a pty simulator.

Layout (each module short enough to read at once):

- ``reading``: plain values (``Frame``, ``Status``, ``Command``, ``SerialSettings``, ``Indication``)
- ``protocol``: what a protocol is (``ScaleProtocol``, ``FrameParser``, ``DeviceSide``)
- ``toledo8217``, ``sma``, ``mtsics``, ``cas``: the protocols, pure (sans-I/O); ``protocols``: by name
- ``stability``: the software stability window; ``weigher``: frames -> ``WeightReading`` per role
- ``transport``: ``ScaleLink``, the serial thread (polling, flushing, reconnect with backoff)
- ``scale``: ``Scale``, what the core creates; ``simulator``: ``ScaleSimulator`` on a pty

The core creates its scales with ``open_scale(config.scale, ScaleRole.PRODUCE, post)`` and
``open_scale(config.bagging_scale, ScaleRole.BAGGING, post)``; with ``simulate=True`` each gets
its own simulator (``scale.simulator.place(512)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kiosk.events import Post, ScaleRole
from kiosk.peripherals.scale.protocol import ScaleProtocol
from kiosk.peripherals.scale.protocols import PROTOCOLS, protocol_named
from kiosk.peripherals.scale.reading import Command, Frame, FrameKind, Status
from kiosk.peripherals.scale.scale import DEVICE_NAMES, Scale, grams
from kiosk.peripherals.scale.simulator import ScaleModel, ScaleSimulator
from kiosk.peripherals.scale.stability import StabilityWindow
from kiosk.peripherals.scale.transport import ScaleLink, probe_port
from kiosk.peripherals.scale.weigher import Weigher

if TYPE_CHECKING:
    from kiosk.config import ScaleSection

__all__ = [
    "DEVICE_NAMES", "PROTOCOLS", "Command", "Frame", "FrameKind", "Scale", "ScaleLink",
    "ScaleModel", "ScaleProtocol", "ScaleRole", "ScaleSimulator", "StabilityWindow", "Status",
    "Weigher", "grams", "open_scale", "probe_port", "protocol_named",
]


def open_scale(section: ScaleSection, role: ScaleRole, post: Post, *, simulate: bool = False,
               start: bool = True, **options: Any) -> Scale:
    """The scale for ``role`` as configured; started unless ``start=False``. Close it when done.

    With ``simulate=True`` a ``ScaleSimulator`` speaking the configured protocol is started on a
    pty (a symlink in a private temporary folder stands for ``section.port``); the scale reads it
    through pyserial exactly as it would read the real port. It is ``scale.simulator`` and
    closes with the scale.
    """
    simulator = None
    port = section.port
    if simulate:
        # Display division 1 g, so a scenario's ``weigh: 0.512`` reads exactly 512 g.
        simulator = ScaleSimulator.in_temporary_folder(
            section.protocol, f"kiosk-{DEVICE_NAMES[role].replace('_', '-')}",
            capacity_g=grams(section.capacity_kg)).start()
        port = simulator.path
    scale = Scale.from_config(section, role, post, port=port, **options)
    scale.simulator = simulator
    return scale.start() if start else scale
