"""Display detection, Kivy settings and the UI font, decided before Kivy loads (no Kivy here)."""

from __future__ import annotations

from pathlib import Path

from kiosk.ui.display import Display, connected_card, detect, input_providers, kivy_settings
from kiosk.ui.fonts import find_cjk_font


def drm(tmp_path: Path, **connectors: str) -> Path:
    for name, status in connectors.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "status").write_text(status + "\n")
    return tmp_path


def test_kmsdrm_picks_the_card_with_a_connected_display(tmp_path):
    sysfs = drm(tmp_path, **{"card0-Writeback-1": "connected", "card0-HDMI-A-1": "disconnected",
                             "card1-DSI-1": "connected"})
    (tmp_path / "card1").mkdir()  # the card itself is no connector
    assert connected_card(sysfs) == 1
    display = detect({"SDL_VIDEODRIVER": "kmsdrm", "KIVY_WINDOW": "sdl2"}, sysfs)
    assert (display.kind, display.drm_index, display.available) == ("kmsdrm", 1, True)


def test_kmsdrm_without_a_connected_display_is_no_display(tmp_path):
    sysfs = drm(tmp_path, **{"card0-HDMI-A-1": "disconnected"})
    display = detect({"SDL_VIDEODRIVER": "kmsdrm", "DISPLAY": ":0"}, sysfs)
    assert not display.available
    assert "no DRM card" in display.detail
    assert connected_card(tmp_path / "missing") is None


def test_desktop_displays_and_drivers_that_draw_nowhere(tmp_path):
    assert detect({"DISPLAY": ":0"}, tmp_path).kind == "x11"
    assert detect({"WAYLAND_DISPLAY": "wayland-0"}, tmp_path).kind == "wayland"
    assert detect({"DISPLAY": ":0", "SDL_VIDEODRIVER": "offscreen"}, tmp_path).kind == "none"
    assert detect({"SDL_VIDEODRIVER": "dummy"}, tmp_path).kind == "none"
    none = detect({}, tmp_path)
    assert not none.available and "DISPLAY" in none.detail


def test_exactly_one_input_provider():
    assert input_providers({}) == {"mouse": "mouse,disable_multitouch"}
    assert input_providers({"KIOSK_TOUCH_DEVICE": "/dev/input/kiosk-touch"}) == {
        "touch": "mtdev,/dev/input/kiosk-touch"}


def test_kivy_settings_for_the_pi_and_for_a_desktop():
    pi = kivy_settings(Display("kmsdrm", "card1", drm_index=1), {})
    assert pi.config[("graphics", "fullscreen")] == "auto"
    assert pi.config[("graphics", "show_cursor")] == "0"
    assert pi.config[("kivy", "exit_on_escape")] == "0"
    assert ("graphics", "width") not in pi.config
    assert pi.env == {"SDL_KMSDRM_DEVICE_INDEX": "1"}
    assert len(pi.inputs) == 1
    assert kivy_settings(Display("kmsdrm", "card1", drm_index=1), {"SDL_KMSDRM_DEVICE_INDEX": "0"}).env == {}

    desk = kivy_settings(Display("x11", ":0"), {}, size=(800, 480))
    assert desk.config[("graphics", "fullscreen")] == "0"
    assert (desk.config[("graphics", "width")], desk.config[("graphics", "height")]) == ("800", "480")
    assert desk.env == {}
    chosen = kivy_settings(Display("x11", ":0"), {"KCFG_GRAPHICS_FULLSCREEN": "auto"})
    assert ("graphics", "fullscreen") not in chosen.config  # Kivy's own variable wins


def test_cjk_font_search_order_and_override(tmp_path):
    first, second, bold = tmp_path / "a.otf", tmp_path / "b.ttc", tmp_path / "b-bold.ttc"
    second.write_bytes(b"x")
    bold.write_bytes(b"x")
    candidates = [(str(first), None), (str(second), str(bold))]
    assert find_cjk_font({}, candidates) == (second, bold)
    first.write_bytes(b"x")
    assert find_cjk_font({}, candidates) == (first, None)
    own = tmp_path / "own.ttf"
    own.write_bytes(b"x")
    assert find_cjk_font({"KIOSK_UI_FONT": str(own)}, candidates) == (own, None)
    assert find_cjk_font({"KIOSK_UI_FONT": str(tmp_path / "gone.ttf")}, candidates) == (first, None)
    assert find_cjk_font({}, [(str(tmp_path / "none.ttf"), None)]) is None
