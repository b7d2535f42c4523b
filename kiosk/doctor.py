"""``kiosk doctor``: check every configured device, the database, the disk and the broker.

Each check returns one ``Finding`` (OK, WARN or FAIL) with a fix hint a technician can act on.
Checks never raise: a check that breaks is itself a FAIL with the reason.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk.config import Config, ScaleSection
from kiosk.events import ScaleRole

OK, WARN, FAIL = "OK", "WARN", "FAIL"
DISK_FAIL_MB = 200
DISK_WARN_MB = 1024


@dataclass(frozen=True)
class Finding:
    check: str
    result: str  # OK | WARN | FAIL
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "result": self.result, "detail": self.detail, "fix": self.fix}


def check_disk(config: Config) -> Finding:
    folder = Path(config.kiosk.data_dir)
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), Path("/"))
    free_mb = shutil.disk_usage(probe).free // (1024 * 1024)
    detail = f"{free_mb} MB free on {probe}"
    if free_mb < DISK_FAIL_MB:
        return Finding("disk", FAIL, detail, "free space: old logs (journalctl --vacuum-size=100M), old updates")
    if free_mb < DISK_WARN_MB:
        return Finding("disk", WARN, detail, "less than 1 GB left; clean up before the outbox or logs fill it")
    return Finding("disk", OK, detail)


def check_database(config: Config) -> Finding:
    from kiosk.db import connect, latest_version, schema_version
    from kiosk.errors import StoreError
    path = config.db_path
    if not path.exists():
        return Finding("database", WARN, f"{path} does not exist yet",
                       f"start the kiosk once, or `kiosk db migrate` and `kiosk catalog import` (folder {path.parent})")
    try:
        conn = connect(path)
    except StoreError as exc:
        return Finding("database", FAIL, str(exc), f"check that {path.parent} exists and is writable")
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM items").fetchone()[0]
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        return Finding("database", FAIL, f"{path}: {exc}", "restore the database from a backup")
    finally:
        conn.close()
    if integrity != "ok":
        return Finding("database", FAIL, f"{path}: integrity check: {integrity}", "restore the database from a backup")
    if items == 0:
        return Finding("database", WARN, f"{path}: schema {version}/{latest_version()}, catalog empty",
                       "kiosk catalog import CATALOG.csv")
    return Finding("database", OK, f"{path}: schema {version}/{latest_version()}, {items} items")


def check_scale(section: ScaleSection, role: ScaleRole, timeout_s: float = 3.0) -> Finding:
    from kiosk.errors import KioskError
    from kiosk.peripherals.scale import open_scale
    name = "produce scale" if role is ScaleRole.PRODUCE else "bagging scale"
    if not section.enabled:
        return Finding(name, OK, "not fitted (disabled in config)")
    where = f"{section.protocol} on {section.port}"
    try:
        scale = open_scale(section, role, lambda event: None, start=False)
        scale.start(require_port=True)
    except (KioskError, OSError) as exc:
        return Finding(name, FAIL, f"{where}: {exc}",
                       f"plug the scale in; check {section.port} (udev rule) and that no other program holds it")
    try:
        reading = scale.wait_reading(timeout_s, stable=False)
        if reading is None or reading.status == "no_answer":
            return Finding(name, FAIL, f"{where}: no answer",
                           "check the cable, the scale's interface setting and the protocol in the config")
        stable = scale.wait_reading(timeout_s)
        if stable is None:
            return Finding(name, WARN, f"{where}: {reading.status}, not stable within {timeout_s:g} s",
                           "clear the platter and keep it still; check for draughts or vibration")
        if stable.status != "ok":
            return Finding(name, FAIL, f"{where}: {stable.status}", "re-zero the scale with the platter empty")
        division = max(int(section.division_g), 1)
        if stable.weight_g is not None and abs(stable.weight_g) > division:
            return Finding(name, WARN, f"{where}: {stable.weight_g} g at rest, not zero",
                           "clear the platter; re-zero the scale")
        return Finding(name, OK, f"{where}: stable at zero")
    finally:
        scale.close()


def check_printer(config: Config) -> Finding:
    from kiosk.errors import KioskError
    from kiosk.peripherals.printer import JobLog, ReceiptPrinter
    if not config.printer.enabled:
        return Finding("printer", OK, "not fitted (disabled in config)")
    uri = config.printer.uri
    try:
        printer = ReceiptPrinter.from_config(config, jobs=JobLog())
    except (KioskError, OSError, ValueError) as exc:
        return Finding("printer", FAIL, f"{uri}: {exc}", "check the printer URI, cable and power")
    try:
        status = printer.status()
    finally:
        printer.close()
    hints = {"paper_out": "load a new paper roll", "paper_near_end": "paper roll nearly empty: have a roll ready",
             "cover_open": "close the printer cover", "offline": "check power and cable; clear paper jams",
             "no_answer": "check power and cable; is the URI right?",
             "status_unknown": "this connection cannot report paper status; use serial, usb or tcp"}
    result = {"ok": OK, "warning": WARN}.get(status.state, FAIL)
    reason = status.reason or "ready"
    return Finding("printer", result, f"{uri}: {reason}", "" if result == OK else hints.get(reason, "see the printer's manual"))


def check_camera(config: Config) -> Finding:
    if not config.camera.enabled:
        return Finding("camera", OK, "not fitted (disabled in config)")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # its own warnings would clutter the table
    import cv2
    device: int | str = int(config.camera.device) if config.camera.device.isdigit() else config.camera.device
    capture = cv2.VideoCapture(device)
    try:
        if not capture.isOpened():
            return Finding("camera", FAIL, f"camera {device} cannot be opened",
                           "plug the camera in; check `ls /dev/video*` and camera.device")
        frames, started, shape = 0, time.monotonic(), (0, 0)
        while time.monotonic() - started < 1.0:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            frames, shape = frames + 1, frame.shape[:2]
        if frames == 0:
            return Finding("camera", FAIL, f"camera {device}: no frames", "replug the camera; check its cable")
        fps = frames / (time.monotonic() - started)
        height, width = shape
        result = OK if fps >= 10 else WARN
        return Finding("camera", result, f"camera {device}: {width}x{height} at {fps:.0f} fps",
                       "" if result == OK else "low frame rate: check lighting (exposure) and USB bandwidth")
    finally:
        capture.release()


def check_gpio(config: Config) -> Finding:
    if not config.gpio.enabled:
        return Finding("gpio", OK, "not fitted (disabled in config)")
    from kiosk.errors import KioskError
    from kiosk.peripherals.gpio import LaneGpio
    try:
        with warnings.catch_warnings():  # gpiozero warns once per pin factory it tries
            warnings.simplefilter("ignore")
            gpio = LaneGpio.from_config(config.gpio, lambda event: None)
    except (KioskError, OSError, ValueError, ImportError) as exc:
        return Finding("gpio", FAIL, f"pin factory {config.gpio.pin_factory or 'default'}: {exc}",
                       "on a Raspberry Pi install python3-lgpio; elsewhere set gpio.enabled = false")
    except Exception as exc:  # gpiozero raises its own errors (BadPinFactory ...) off a Pi
        return Finding("gpio", FAIL, f"pin factory {config.gpio.pin_factory or 'default'}: {type(exc).__name__}: {exc}",
                       "on a Raspberry Pi install python3-lgpio; elsewhere set gpio.enabled = false")
    gpio.close()
    return Finding("gpio", OK, f"lane light, help button and buzzer on pins {config.gpio.light_green}/"
                   f"{config.gpio.light_yellow}/{config.gpio.light_red}, {config.gpio.help_button}, {config.gpio.buzzer}")


def check_broker(config: Config, timeout_s: float = 5.0) -> Finding:
    if not config.mqtt.enabled:
        return Finding("broker", OK, "fleet reporting disabled in config")
    from kiosk.errors import KioskError
    from kiosk.telemetry.client import (
        BrokerError,
        ClientSettings,
        probe,
        probe_settings,
        redact_url,
    )
    try:
        # probe() connects with its own client id and no stored session: the kiosk's queued
        # commands stay queued and a running kiosk stays connected
        settings = probe_settings(ClientSettings.from_config(config.mqtt, config.kiosk.id))
        probe(settings, timeout_s)
    except (BrokerError, KioskError) as exc:
        return Finding("broker", FAIL, str(exc), "check mqtt.url, the network, and the kiosk's password or certificate")
    return Finding("broker", OK, f"{redact_url(config.mqtt.url)}: connected as {settings.username or config.kiosk.id} "
                   f"(client id {settings.client_id})")


def check_staff(config: Config) -> Finding:
    accounts = config.staff.accounts
    if not accounts:
        return Finding("staff", FAIL, "no staff accounts: nobody can approve age checks, voids or help calls",
                       "add [[staff.accounts]] with id, role and pin_hash (`kiosk staff hash-pin ID`)")
    unusable = [a.id or "(no id)" for a in accounts if not a.id or not a.pin_hash.startswith("pbkdf2_sha256$")]
    if unusable:
        return Finding("staff", FAIL, f"accounts without a usable PIN hash: {', '.join(unusable)}",
                       "set pin_hash from `kiosk staff hash-pin ID`")
    return Finding("staff", OK, f"{len(accounts)} staff account(s)")


def run_checks(config: Config) -> list[Finding]:
    checks: list[tuple[str, Callable[[], Finding]]] = [
        ("disk", lambda: check_disk(config)),
        ("staff", lambda: check_staff(config)),
        ("database", lambda: check_database(config)),
        ("produce scale", lambda: check_scale(config.scale, ScaleRole.PRODUCE)),
        ("bagging scale", lambda: check_scale(config.bagging_scale, ScaleRole.BAGGING)),
        ("printer", lambda: check_printer(config)),
        ("camera", lambda: check_camera(config)),
        ("gpio", lambda: check_gpio(config)),
        ("broker", lambda: check_broker(config)),
    ]
    findings = []
    for name, check in checks:
        try:
            findings.append(check())
        except Exception as exc:  # a broken check must not hide the others
            findings.append(Finding(name, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}",
                                    "report this as a bug"))
    return findings
