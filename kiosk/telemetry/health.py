"""Health samples: what the board, the devices and the outbox look like right now.

Readings come from ``/proc`` and ``/sys`` (roots injectable for tests); a reading the board does not
have (no thermal zone on a desktop) is ``None``, never an error. Each sample is a flat-ish JSON dict
so Telegraf ``json_v2`` and Grafana need no custom code (reference/mqtt.md 1.11).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk import __version__

DISK_LOW_FREE_PCT = 10.0  # the disk_low alert fires below this much free space ...
DISK_LOW_FREE_MB = 500.0  # ... or below this many megabytes, whichever comes first


def cpu_temp_c(sys_root: Path = Path("/sys")) -> float | None:
    """The CPU's thermal zone in degrees C (Raspberry Pi: ``cpu-thermal``); None without one."""
    zones = sorted((sys_root / "class/thermal").glob("thermal_zone*"))
    best: float | None = None
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip().lower()
            milli = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        value = round(milli / 1000.0, 1)
        if "cpu" in kind or "soc" in kind or "x86_pkg" in kind:
            return value
        if best is None:
            best = value
    return best


def memory(proc_root: Path = Path("/proc")) -> dict[str, float] | None:
    try:
        fields = {}
        for line in (proc_root / "meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            fields[name] = int(rest.split()[0])  # kB
    except (OSError, ValueError, IndexError):
        return None
    total, available = fields.get("MemTotal"), fields.get("MemAvailable")
    if not total or available is None:
        return None
    return {"total_mb": round(total / 1024, 1), "available_mb": round(available / 1024, 1),
            "used_pct": round(100.0 * (total - available) / total, 1)}


def disk(path: str | Path) -> dict[str, Any] | None:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    free_pct = 100.0 * usage.free / usage.total if usage.total else 0.0
    free_mb = usage.free / 2**20
    return {"path": str(path), "total_mb": round(usage.total / 2**20, 1), "free_mb": round(free_mb, 1),
            "free_pct": round(free_pct, 1),
            "low": free_pct < DISK_LOW_FREE_PCT or free_mb < DISK_LOW_FREE_MB}


def uptime_s(proc_root: Path = Path("/proc")) -> float | None:
    try:
        return round(float((proc_root / "uptime").read_text().split()[0]), 1)
    except (OSError, ValueError, IndexError):
        return None


def boot_time(proc_root: Path = Path("/proc")) -> str | None:
    """System boot time (UTC ISO) from ``/proc/stat`` btime."""
    try:
        for line in (proc_root / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return datetime.fromtimestamp(int(line.split()[1]), UTC).isoformat()
    except (OSError, ValueError):
        return None
    return None


def last_sale_at(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT max(completed_at) FROM sales").fetchone()
    return None if row is None else row[0]


class HealthSampler:
    """Builds one health sample; cheap enough to run every few seconds on a Pi.

    ``devices`` returns each device's state (camera fps, scale, printer paper, GPIO ...); ``outbox``
    returns ``(depth, oldest_age_s)``; ``last_sale`` the completion time of the newest sale.
    """

    def __init__(self, *, devices: Callable[[], Mapping[str, Any]],
                 outbox: Callable[[], tuple[int, float | None]],
                 last_sale: Callable[[], str | None], data_dir: str | Path,
                 extra: Callable[[], Mapping[str, Any]] | None = None,
                 proc_root: Path = Path("/proc"), sys_root: Path = Path("/sys")) -> None:
        self.devices = devices
        self.outbox = outbox
        self.last_sale = last_sale
        self.data_dir = Path(data_dir)
        self.extra = extra
        self.proc_root = proc_root
        self.sys_root = sys_root
        self._started = time.monotonic()

    def sample(self) -> dict[str, Any]:
        try:
            load = [round(x, 2) for x in os.getloadavg()]
        except OSError:
            load = None
        depth, oldest = self.outbox()
        try:
            devices = dict(self.devices())
        except Exception as exc:  # a broken device callback must not silence health
            devices = {"error": f"{type(exc).__name__}: {exc}"}
        sample: dict[str, Any] = {
            "firmware": __version__,
            "cpu_temp_c": cpu_temp_c(self.sys_root),
            "load": load,
            "cpus": os.cpu_count(),
            "memory": memory(self.proc_root),
            "disk": disk(self.data_dir if self.data_dir.exists() else self.data_dir.parent),
            "uptime_s": uptime_s(self.proc_root),
            "process_uptime_s": round(time.monotonic() - self._started, 1),
            "devices": devices,
            "outbox": {"depth": depth, "oldest_age_s": None if oldest is None else round(oldest, 1)},
            "last_sale_at": self.last_sale(),
        }
        if self.extra is not None:
            sample.update(self.extra())
        return sample
