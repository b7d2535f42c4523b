"""Is there a screen to draw on, and how should Kivy be set up for it? Decided before Kivy loads.

Kivy's SDL, given no display, silently falls back to its ``offscreen`` driver and "runs" with
nothing visible (DESIGN 6), so ``detect`` looks first:

* **Pi without a desktop (KMS/DRM):** the systemd unit sets ``KIVY_WINDOW=sdl2`` and
  ``SDL_VIDEODRIVER=kmsdrm``. A display is there when a DRM card has a ``connected`` connector
  in ``/sys/class/drm/card*-*/status`` (writeback connectors skipped). That card's number goes
  to ``SDL_KMSDRM_DEVICE_INDEX``, because the display and render-only nodes can swap numbers
  between boots (Pi 5 with DSI). The window is full screen without a cursor.
* **Desktop:** ``DISPLAY`` (X11) or ``WAYLAND_DISPLAY``. The PyPI Kivy wheel has no Wayland
  driver and goes through XWayland; ``kiosk.ui.window`` checks afterwards which SDL driver was
  really chosen. A plain window unless ``KCFG_GRAPHICS_FULLSCREEN`` asks for full screen.
* ``SDL_VIDEODRIVER=offscreen`` or ``dummy`` draw nowhere: no display.

Input: exactly one provider (two providers for one touch panel give double taps, DESIGN 6).
By default the ``mouse`` provider, which also gets SDL's touch-to-mouse events; with
``KIOSK_TOUCH_DEVICE=/dev/input/kiosk-touch`` only that device through ``mtdev``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SYSFS_DRM = Path("/sys/class/drm")
WINDOW_SIZE = (1024, 600)  # desktop window; the Pi uses the panel's own resolution
_CONNECTOR = re.compile(r"^card(\d+)-(.+)$")


@dataclass(frozen=True, slots=True)
class Display:
    kind: str  # kmsdrm | x11 | wayland | none
    detail: str  # why: shown in the "no display" line and logged otherwise
    drm_index: int | None = None

    @property
    def available(self) -> bool:
        return self.kind != "none"


def connected_card(sysfs: Path = SYSFS_DRM) -> int | None:
    """The number of the first DRM card with a connected (non-writeback) display, else None."""
    try:
        connectors = sorted(sysfs.glob("card*-*"))
    except OSError:
        return None
    for connector in connectors:
        match = _CONNECTOR.match(connector.name)
        if match is None or "writeback" in match.group(2).lower():
            continue
        try:
            status = (connector / "status").read_text(encoding="ascii").strip()
        except OSError:
            continue
        if status == "connected":
            return int(match.group(1))
    return None


def detect(env: Mapping[str, str], sysfs: Path = SYSFS_DRM) -> Display:
    driver = env.get("SDL_VIDEODRIVER", "").strip().lower()
    if driver == "kmsdrm":
        card = connected_card(sysfs)
        if card is None:
            return Display("none", f"SDL_VIDEODRIVER=kmsdrm but no DRM card in {sysfs} has a connected display")
        return Display("kmsdrm", f"KMS/DRM on card{card}", drm_index=card)
    if driver in ("offscreen", "dummy"):
        return Display("none", f"SDL_VIDEODRIVER={driver} draws on no screen")
    if env.get("DISPLAY"):
        return Display("x11", f"X11 display {env['DISPLAY']}")
    if env.get("WAYLAND_DISPLAY"):
        return Display("wayland", f"Wayland display {env['WAYLAND_DISPLAY']}")
    return Display("none", "DISPLAY and WAYLAND_DISPLAY are not set and SDL_VIDEODRIVER is not kmsdrm")


def input_providers(env: Mapping[str, str]) -> dict[str, str]:
    """Kivy's ``[input]`` section: always exactly one entry."""
    device = env.get("KIOSK_TOUCH_DEVICE", "").strip()
    if device:
        return {"touch": f"mtdev,{device}"}
    return {"mouse": "mouse,disable_multitouch"}


@dataclass(frozen=True)
class KivySettings:
    """Kivy ``Config`` values and environment defaults, applied before the window is created."""

    config: dict[tuple[str, str], str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def kivy_settings(display: Display, env: Mapping[str, str], size: tuple[int, int] = WINDOW_SIZE) -> KivySettings:
    kiosk = display.kind == "kmsdrm"
    config = {
        ("kivy", "exit_on_escape"): "0",  # a scanner's or keyboard's ESC must not close the kiosk
        ("kivy", "log_enable"): "0",  # logs go to stderr (journald), not to files on the SD card
        ("graphics", "maxfps"): "30",
        ("graphics", "multisamples"): "0",
        ("graphics", "allow_screensaver"): "0",
        ("graphics", "show_cursor"): "0" if kiosk else "1",
    }
    if "KCFG_GRAPHICS_FULLSCREEN" not in env:
        config[("graphics", "fullscreen")] = "auto" if kiosk else "0"
    if not kiosk:
        config[("graphics", "width")], config[("graphics", "height")] = str(size[0]), str(size[1])
    extra = {}
    if display.drm_index is not None and "SDL_KMSDRM_DEVICE_INDEX" not in env:
        extra["SDL_KMSDRM_DEVICE_INDEX"] = str(display.drm_index)
    return KivySettings(config, input_providers(env), extra)
