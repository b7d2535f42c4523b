"""MQTT fleet telemetry (issue 5, DESIGN 3.6): presence, health, the outbox, alerts, commands, config.

The kiosk core needs only ``Telemetry`` (see ``kiosk.telemetry.telemetry`` for the API) and
implements ``KioskControl``. Modules:

- ``topics``, ``payloads``: the topic tree and every payload, pure and strict;
- ``client``: the thin paho-mqtt wrapper (MQTT 5 with 3.1.1 fallback, honest publish results);
- ``presence``, ``health``, ``alerts``, ``publisher``, ``commands``: one job each;
- ``python -m kiosk.telemetry``: a demo kiosk (no UI) used by tests and by hand.
"""

from kiosk.telemetry.commands import KioskControl
from kiosk.telemetry.payloads import PriceChange
from kiosk.telemetry.publisher import PublisherOptions
from kiosk.telemetry.telemetry import Telemetry, TelemetryOptions

__all__ = ["KioskControl", "PriceChange", "PublisherOptions", "Telemetry", "TelemetryOptions"]
