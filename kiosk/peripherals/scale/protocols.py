"""The scale protocols the kiosk ships, by their config and command-line names."""

from __future__ import annotations

from kiosk.peripherals.scale.cas import Cas
from kiosk.peripherals.scale.mtsics import MtSics
from kiosk.peripherals.scale.protocol import ScaleProtocol
from kiosk.peripherals.scale.sma import Sma
from kiosk.peripherals.scale.toledo8217 import Toledo8217

PROTOCOLS: dict[str, ScaleProtocol] = {p.name: p for p in (Toledo8217(), Sma(), MtSics(), Cas())}


def protocol_named(name: str | ScaleProtocol) -> ScaleProtocol:
    """The protocol called ``name`` (toledo8217, sma, mtsics, cas)."""
    if isinstance(name, ScaleProtocol):
        return name
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown scale protocol {name!r}; expected one of: {', '.join(PROTOCOLS)}") from None
