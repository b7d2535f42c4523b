"""Set Kivy up for the kiosk and open its window, or say why there is none.

Everything here must happen before ``kivy.core.window`` is imported: Kivy's environment
(no argv parsing, no log files, Python logging, no ``~/.kivy`` config), the ``Config`` values and
the one input provider from ``kiosk.ui.display``. Kivy does not exit when it cannot create a
window (``Window`` is just None, DESIGN 6), and SDL may quietly pick its ``offscreen`` driver;
both raise ``NoWindow`` so the caller can exit (systemd restarts it) or run headless instead.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kiosk.errors import KioskError
from kiosk.ui.display import WINDOW_SIZE, Display, kivy_settings
from kiosk.ui.fonts import install_default_font

log = logging.getLogger("kiosk.ui")

KIVY_ENV = {
    "KIVY_NO_ARGS": "1",  # else Kivy parses the kiosk's own command line
    "KIVY_NO_FILELOG": "1",
    "KIVY_NO_CONFIG": "1",  # read-only root: never read or write ~/.kivy/config.ini
    "KIVY_LOG_MODE": "PYTHON",  # Kivy logs through logging, and leaves sys.stderr alone
}
_KIVY_LEVELS = ("trace", "debug", "info", "warning", "error", "critical")
_PROVIDER_ERROR = re.compile(r"^\s*(\w+ - \w+: .+)$", re.MULTILINE)


class NoWindow(KioskError):
    """Kivy could not show a window on a real screen; the message says why."""


def prepare_kivy(display: Display, size: tuple[int, int] = WINDOW_SIZE) -> None:
    """Kivy's environment and ``Config`` for ``display``; call before importing ``kivy.core.window``."""
    for key, value in KIVY_ENV.items():
        os.environ.setdefault(key, value)
    # Kivy logs at INFO from its import on; follow the kiosk's own level instead.
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    os.environ.setdefault("KCFG_KIVY_LOG_LEVEL", level if level in _KIVY_LEVELS else "warning")
    settings = kivy_settings(display, os.environ, size)
    os.environ.update(settings.env)
    from kivy.config import Config

    for (section, key), value in settings.config.items():
        Config.set(section, key, value)
    for key, _ in Config.items("input"):
        Config.remove_option("input", key)
    for key, value in settings.inputs.items():
        Config.set("input", key, value)


def open_window(display: Display, size: tuple[int, int] = WINDOW_SIZE) -> Any:
    """Prepare Kivy, create its window and install the CJK font; the Kivy ``Window``."""
    if not display.available:
        raise NoWindow(display.detail)
    prepare_kivy(display, size)
    with _kivy_log_held() as held:
        from kivy.core.window import Window
    if Window is None:
        for record in held.records:
            log.debug("kivy: %s", record.getMessage())
        raise NoWindow(f"Kivy could not create a window ({_why(held)})")
    for record in held.records:
        logging.getLogger("kivy").handle(record)
    driver = sdl_video_driver()
    if driver in ("offscreen", "dummy"):
        raise NoWindow(f"SDL could not use the {display.detail} and chose its {driver} driver, "
                       "so nothing would be visible")
    install_default_font()
    log.info("window %sx%s on %s (SDL driver %s)", *Window.size, display.detail, driver or "unknown")
    return Window


def sdl_video_driver() -> str | None:
    """The SDL video driver Kivy's window really uses (x11, kmsdrm, offscreen ...), if known."""
    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            path = next((line.split()[-1] for line in maps if "libSDL2-2" in line), None)
    except OSError:
        return None
    if path is None:
        return None
    try:
        sdl = ctypes.CDLL(path)
        sdl.SDL_GetCurrentVideoDriver.restype = ctypes.c_char_p
        name = sdl.SDL_GetCurrentVideoDriver()
    except (OSError, AttributeError):
        return None
    return name.decode("ascii", "replace") if name else None


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _kivy_log_held() -> Iterator[_Held]:
    """Hold Kivy's window-creation log, so a failure's reason can go into the caller's one line."""
    kivy_log = logging.getLogger("kivy")
    held, propagate = _Held(), kivy_log.propagate
    kivy_log.addHandler(held)
    kivy_log.propagate = False
    try:
        yield held
    finally:
        kivy_log.removeHandler(held)
        kivy_log.propagate = propagate


def _why(held: _Held) -> str:
    for record in held.records:
        if record.levelno >= logging.CRITICAL:
            text = record.getMessage()
            found = _PROVIDER_ERROR.findall(text)
            return "; ".join(found) if found else text.splitlines()[0]
    return "no window provider worked"
