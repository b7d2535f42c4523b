"""``kiosk run`` end to end in subprocesses: no display, the headless demo, real-device mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.ui.display import connected_card

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "examples" / "scenarios"


def kiosk(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "KIVY_WINDOW", "KIOSK_CONFIG")}
    clean.update(KIVY_HOME=str(tmp_path / "kivy"), **env)
    return subprocess.run([sys.executable, "-m", "kiosk", "run", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=clean, timeout=120)


def test_a_real_lane_needs_a_payment_provider(tmp_path):
    proc = kiosk(tmp_path=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "no payment provider is built yet" in proc.stderr and "simulated = true" in proc.stderr
    assert proc.stdout == ""


def test_a_real_lane_needs_a_catalog_and_a_screen(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[payments]\nsimulated = true\n', encoding="utf-8")
    proc = kiosk("--config", str(config), tmp_path=tmp_path)
    assert proc.returncode == 2 and "catalog" in proc.stderr and "kiosk catalog import" in proc.stderr
    subprocess.run([sys.executable, "-m", "kiosk", "catalog", "import", str(ROOT / "examples/catalog.csv"),
                    "--config", str(config)], check=True, capture_output=True, cwd=ROOT)
    proc = kiosk("--config", str(config), tmp_path=tmp_path)
    assert proc.returncode == 1, "no screen: exit so systemd restarts the kiosk, never run without a window"
    assert "no display" in proc.stderr and "Traceback" not in proc.stderr


def test_no_display_runs_the_plain_basket_headless_with_its_receipt(tmp_path):
    proc = kiosk("--simulate", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("kiosk: no display: running the headless demo instead (")
    out = proc.stdout
    assert out.splitlines()[0].startswith("session.started")
    assert "sale.completed" in out and "total 14.50 CNY" in out
    assert "合计 Total" in out and "￥14.50" in out  # the receipt layout
    assert "Cola 330ml can" in out
    assert not (tmp_path / "var").exists()  # the headless demo keeps nothing unless --db is given


def test_kivy_falling_back_to_offscreen_counts_as_no_display(tmp_path):
    # The PyPI Kivy wheel has no Wayland driver: with WAYLAND_DISPLAY only, SDL picks "offscreen".
    proc = kiosk("--simulate", tmp_path=tmp_path, WAYLAND_DISPLAY="wayland-kiosk-test")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert "no display: running the headless demo instead" in line and "offscreen" in line
    assert "sale.completed" in proc.stdout


@pytest.mark.skipif(connected_card() is not None, reason="this machine has a real DRM display")
def test_a_window_kivy_cannot_create_is_reported_not_ignored(tmp_path):
    code = ("from kiosk.ui.display import Display\n"
            "from kiosk.ui.window import NoWindow, open_window\n"
            "try:\n    open_window(Display('kmsdrm', 'card0', drm_index=0))\n"
            "except NoWindow as exc:\n    print('NoWindow', exc)\n")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(SDL_VIDEODRIVER="kmsdrm", KIVY_WINDOW="sdl2", KIVY_HOME=str(tmp_path / "kivy"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120)
    assert proc.stdout.startswith("NoWindow Kivy could not create a window (sdl2 - "), proc.stdout + proc.stderr
    assert proc.stdout.count("\n") == 1  # the provider's error, folded into one line
    assert "Traceback" not in proc.stderr


def test_headless_demo_of_another_scenario_with_a_kept_database(tmp_path):
    db = tmp_path / "demo.db"
    proc = kiosk("--simulate", "--headless-demo", str(SCENARIOS / "03-produce-by-weight.yaml"),
                 "--db", str(db), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "total 21.58 CNY" in proc.stdout
    assert db.exists()


def test_a_missing_demo_scenario_is_one_clear_error(tmp_path):
    proc = kiosk("--simulate", "--headless-demo", str(tmp_path / "nope.yaml"), tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
