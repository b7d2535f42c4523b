"""A real kiosk process (``python -m kiosk.telemetry``) killed with SIGKILL and started again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet.ingest import Ingest, IngestStore
from kiosk.db import connect
from kiosk.outbox import Outbox
from kiosk.telemetry import payloads
from tests.telemetry.broker import Mosquitto
from tests.telemetry.conftest import PASSWORDS, FleetProbe, retained, wait_until

K1 = "kiosk/v1/kiosk-0001"
REPO = Path(__file__).resolve().parents[2]


class KioskProcess:
    def __init__(self, broker: Mosquitto, db: Path, *extra: str) -> None:
        env = dict(os.environ, KIOSK_MQTT_PASSWORD=PASSWORDS["kiosk-0001"], PYTHONPATH=str(REPO))
        env.pop("KIOSK_CONFIG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.telemetry", "--url", broker.url, "--kiosk-id", "kiosk-0001",
             "--db", str(db), "--ack-timeout", "60", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.events.append(json.loads(line))
                self._cond.notify_all()

    def wait_event(self, name: str, timeout: float = 15) -> dict[str, Any]:
        with self._cond:
            assert self._cond.wait_for(lambda: any(e["event"] == name for e in self.events), timeout), \
                (name, self.events, self.stderr_now())
            return [e for e in self.events if e["event"] == name][-1]

    def stderr_now(self) -> str:
        return "" if self.proc.poll() is None else (self.proc.stderr.read() if self.proc.stderr else "")

    def kill(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(20)


@pytest.fixture
def processes() -> Iterator[list[KioskProcess]]:
    started: list[KioskProcess] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)
        for stream in (p.proc.stdout, p.proc.stderr):
            if stream:
                stream.close()


def test_sigkill_gives_offline_then_restart_is_online_with_next_bdseq_and_resends(
        broker: Mosquitto, fleet: FleetProbe, tmp_path: Path, processes: list[KioskProcess]) -> None:
    db, fleet_db = tmp_path / "kiosk.db", tmp_path / "fleet.db"
    # A fleet host that receives but whose acks never reach the kiosk (it crashed after storing half).
    fleet.publish("fleet/v1/host/STATE", payloads.host_state(True, 1), retain=True)
    first = KioskProcess(broker, db, "--sales", "20")
    processes.append(first)
    assert first.wait_event("telemetry.online")["protocol"] == "5"
    birth = json.loads(fleet.wait_for(f"{K1}/up/birth").payload)
    sent = lambda: [m for m in fleet.on(f"{K1}/up/sales")]  # noqa: E731
    assert fleet.wait(lambda: len(sent()) == 20, 15), len(sent())
    first_sales = [json.loads(m.payload) for m in sent()]

    assert first.kill(signal.SIGKILL) == -signal.SIGKILL
    lwt = fleet.wait_for(f"{K1}/up/status", lambda m: m.payload == b"offline", 10)  # the broker's LWT
    assert ("bdSeq", str(birth["bdSeq"])) in lwt.user_properties  # matches the birth it ends
    assert retained(broker.port, f"{K1}/up/status") == b"offline"
    conn = connect(db)
    assert Outbox(conn).depth() == 20  # nothing was acknowledged
    conn.close()

    store = IngestStore(fleet_db)
    store.store([("kiosk-0001", "sales", m) for m in first_sales[:10]])  # committed; acks lost
    store.close()
    ingest = Ingest(broker.url, fleet_db, username="fleet", password=PASSWORDS["fleet"]).start()
    try:
        assert ingest.wait_ready(10)
        second = KioskProcess(broker, db)
        processes.append(second)
        second.wait_event("telemetry.online")
        rebirth = json.loads(fleet.wait_for(f"{K1}/up/birth", lambda m: json.loads(m.payload)["bdSeq"] != birth["bdSeq"]).payload)
        assert rebirth["bdSeq"] == birth["bdSeq"] + 1
        assert fleet.wait(lambda: fleet.on(f"{K1}/up/status")[-1].payload == b"online", 5)
        assert retained(broker.port, f"{K1}/up/status") == b"online"
        conn = connect(db)
        try:
            assert wait_until(lambda: Outbox(conn).depth() == 0, 20), ingest.stats
        finally:
            conn.close()
        assert second.kill(signal.SIGTERM) == 0
        assert second.wait_event("telemetry.stopped")["unacknowledged"] == 0
        stored = ingest.store_db.messages("kiosk-0001", "sales")
        assert [m["sale_id"] for m in stored] == [m["sale_id"] for m in first_sales]  # once each, in order
        assert ingest.stats.duplicates == 10 and ingest.stats.stored == 10
        assert all(m["is_historical"] for m in stored[10:])  # resent by the new process
        fleet.wait_for(f"{K1}/up/status", lambda m: m.payload == b"offline")
        assert retained(broker.port, f"{K1}/up/status") == b"offline"  # the clean stop said so too
    finally:
        ingest.stop()
