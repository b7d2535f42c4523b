"""`kiosk doctor` against real stand-ins: an emulated scale on a pty, a camera fed from a video file,
mock GPIO pins, a real Mosquitto, and a machine with none of the devices."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.telemetry.broker import Mosquitto

ROOT = Path(__file__).resolve().parents[1]
STAFF = ('[[staff.accounts]]\nid = "S0001"\nrole = "attendant"\n'
         'pin_hash = "pbkdf2_sha256$60000$demo-s0001$709f59db7f97d805a2bbe8c34f97adf866779c5dda0cd0830a7750ae1a571bf2"\n')


def doctor(config: Path) -> tuple[int, dict[str, dict], str]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--json", "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    rows = {row["check"]: row for row in map(json.loads, proc.stdout.splitlines())}
    return proc.returncode, rows, proc.stderr


@pytest.fixture
def emulated_scale(tmp_path):
    link = tmp_path / "scale"
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "scale", "emulate", "--protocol", "toledo8217",
                             "--link", str(link)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 10
    while not link.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert link.exists(), proc.stderr.read1().decode() if proc.poll() is not None else "no pty link"
    yield link, proc
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def video(tmp_path):
    import cv2
    path = tmp_path / "camera.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for i in range(60):
        writer.write(np.full((480, 640, 3), i * 4 % 255, np.uint8))
    writer.release()
    return path


def test_everything_healthy(tmp_path, emulated_scale, video):
    link, _ = emulated_scale
    with Mosquitto(tmp_path / "broker", users={"lane-1": "pw"}) as broker:
        db = tmp_path / "kiosk.db"
        subprocess.run([sys.executable, "-m", "kiosk", "catalog", "import", str(ROOT / "examples/catalog.csv"),
                        "--db", str(db)], check=True, capture_output=True, cwd=ROOT)
        config = tmp_path / "kiosk.toml"
        config.write_text(f'[kiosk]\nid = "lane-1"\ndata_dir = "{tmp_path}"\n'
                          f'[scale]\nport = "{link}"\n[bagging_scale]\nenabled = false\n'
                          f'[printer]\nenabled = false\n[camera]\ndevice = "{video}"\n'
                          f'[gpio]\npin_factory = "mock"\n'
                          f'[mqtt]\nenabled = true\nurl = "{broker.url}"\npassword = "pw"\n' + STAFF, encoding="utf-8")
        code, rows, stderr = doctor(config)
    assert {name: row["result"] for name, row in rows.items()} == {
        "disk": "OK", "staff": "OK", "database": "OK", "produce scale": "OK", "bagging scale": "OK", "printer": "OK",
        "camera": "OK", "gpio": "OK", "broker": "OK"}, rows
    assert code == 0 and "Traceback" not in stderr
    assert "stable at zero" in rows["produce scale"]["detail"]
    assert "640x480" in rows["camera"]["detail"]


def test_a_loaded_scale_is_a_warning(tmp_path, emulated_scale):
    link, proc = emulated_scale
    proc.stdin.write(b"1.250\n")
    proc.stdin.flush()
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[scale]\nport = "{link}"\n'
                      '[bagging_scale]\nenabled = false\n[printer]\nenabled = false\n'
                      '[camera]\nenabled = false\n[gpio]\nenabled = false\n' + STAFF, encoding="utf-8")
    time.sleep(0.3)
    code, rows, _ = doctor(config)
    assert rows["produce scale"]["result"] == "WARN" and "not zero" in rows["produce scale"]["detail"]
    assert code == 0


def test_a_kiosk_with_nothing_plugged_in(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path}/data"\n[scale]\nport = "{tmp_path}/no-scale"\n'
                      f'[bagging_scale]\nport = "{tmp_path}/no-bag"\n[printer]\nuri = "tcp://127.0.0.1:9"\n'
                      f'[camera]\ndevice = "{tmp_path}/no-camera.avi"\n[gpio]\npin_factory = "nonsense"\n'
                      '[mqtt]\nenabled = true\nurl = "mqtt://127.0.0.1:9"\n', encoding="utf-8")
    code, rows, stderr = doctor(config)
    assert code == 1 and "Traceback" not in stderr
    for name in ("staff", "produce scale", "bagging scale", "printer", "camera", "gpio", "broker"):
        assert rows[name]["result"] == "FAIL", rows[name]
        assert rows[name]["fix"], f"{name} has no fix hint"
    assert rows["database"]["result"] == "WARN" and not (tmp_path / "data").exists(), "doctor creates nothing"


def test_table_output(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n[scale]\nenabled = false\n[bagging_scale]\nenabled = false\n'
                      '[camera]\nenabled = false\n[gpio]\nenabled = false\n[printer]\nenabled = false\n' + STAFF,
                      encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "kiosk", "doctor", "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].split()[:2] == ["disk", "OK"]
