"""The udev rules give the stable names the config uses, and keep ModemManager off them."""

from __future__ import annotations

import re
from pathlib import Path

from kiosk.config import Config

RULES = Path(__file__).resolve().parents[2] / "systemd" / "udev" / "70-kiosk.rules"


def rules() -> list[str]:
    """Rules as single lines (continuations joined), comments dropped."""
    text = RULES.read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_every_configured_device_name_has_a_rule() -> None:
    links = {m for line in rules() for m in re.findall(r'SYMLINK\+="([^"]+)"', line)}
    config = Config()
    assert {"kiosk-scale", "kiosk-bagging-scale", "kiosk-printer", "input/kiosk-scanner"} <= links
    assert config.scale.port == "/dev/kiosk-scale"
    assert config.bagging_scale.port == "/dev/kiosk-bagging-scale"
    assert config.scanner.device == "/dev/input/kiosk-scanner"


def test_every_rule_keeps_modemmanager_away_and_is_well_formed() -> None:
    for line in rules():
        assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in line, line
        assert line.count('"') % 2 == 0, line
        for key in re.findall(r"([A-Za-z_]+)(?:\{[^}]*\})?\s*(?:==|\+=|=)", line):
            assert key in {"SUBSYSTEM", "KERNEL", "KERNELS", "ATTRS", "ENV", "SYMLINK", "GROUP", "MODE"}, key
