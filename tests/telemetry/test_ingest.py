"""The minimal fleet ingest: stores once, acknowledges after its commit, ignores garbage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet.ingest import Ingest, IngestStore
from tests.telemetry.broker import Mosquitto
from tests.telemetry.conftest import PASSWORDS, FleetProbe, wait_until

REPO = Path(__file__).resolve().parents[2]
K1 = "kiosk/v1/kiosk-0001"


@pytest.fixture
def kiosk(broker: Mosquitto) -> Iterator[FleetProbe]:
    probe = FleetProbe(broker.port, username="kiosk-0001", client_id="kiosk-0001")
    probe.subscribe(f"{K1}/down/#")
    yield probe
    probe.close()


def acked(kiosk: FleetProbe) -> list[str]:
    return [i for m in kiosk.on(f"{K1}/down/ack") for i in json.loads(m.payload)["acked"]]


def test_stores_once_and_acks_every_copy(ingest: Ingest, kiosk: FleetProbe) -> None:
    sale = {"event": "sale.completed", "sale_id": "S1", "msg_id": "m-1", "seq": 1, "is_historical": False}
    kiosk.publish(f"{K1}/up/sales", json.dumps(sale))
    kiosk.publish(f"{K1}/up/sales", json.dumps({**sale, "is_historical": True}))
    kiosk.publish(f"{K1}/up/events", json.dumps({"event": "feedback", "msg_id": "m-2", "seq": 2}))
    assert kiosk.wait(lambda: acked(kiosk).count("m-1") == 2 and "m-2" in acked(kiosk), 10), acked(kiosk)
    assert [m["msg_id"] for m in ingest.store_db.messages("kiosk-0001")] == ["m-1", "m-2"]
    assert ingest.stats.stored == 2 and ingest.stats.duplicates == 1


def test_garbage_is_not_stored_or_acknowledged(ingest: Ingest, kiosk: FleetProbe) -> None:
    kiosk.publish(f"{K1}/up/sales", "{not json")
    kiosk.publish(f"{K1}/up/sales", '{"sale_id": "no msg id"}')
    kiosk.publish(f"{K1}/up/sales", json.dumps({"msg_id": "ok-1"}))
    assert kiosk.wait(lambda: acked(kiosk) == ["ok-1"], 10)
    assert ingest.stats.invalid == 2 and len(ingest.store_db.messages()) == 1


def test_nothing_is_acknowledged_when_the_commit_fails(ingest: Ingest, kiosk: FleetProbe,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = IngestStore.store
    calls = []

    def failing(self: IngestStore, batch: object) -> object:
        calls.append(batch)
        if len(calls) == 1:
            raise OSError("disk full")
        return real(self, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(IngestStore, "store", failing)
    kiosk.publish(f"{K1}/up/sales", json.dumps({"msg_id": "lost-1"}))
    assert wait_until(lambda: len(calls) == 1, 5)
    kiosk.publish(f"{K1}/up/sales", json.dumps({"msg_id": "next-1"}))
    assert kiosk.wait(lambda: "next-1" in acked(kiosk), 10)
    assert "lost-1" not in acked(kiosk)  # the kiosk keeps it and sends it again later


def test_presence_health_and_alerts_are_kept(ingest: Ingest, kiosk: FleetProbe) -> None:
    kiosk.publish(f"{K1}/up/status", "online", retain=True)
    kiosk.publish(f"{K1}/up/health", json.dumps({"outbox": {"depth": 0}}))
    kiosk.publish(f"{K1}/up/alerts/paper_low", json.dumps({"alert": "paper_low"}), retain=True)
    conn = ingest.store_db.conn

    def row() -> tuple[object, ...] | None:
        with ingest.store_db.lock:
            return conn.execute("SELECT status, health FROM kiosks WHERE kiosk_id = 'kiosk-0001'").fetchone()

    assert wait_until(lambda: row() is not None and row()[1] is not None, 5)  # type: ignore[index]
    assert row()[0] == "online"  # type: ignore[index]
    assert wait_until(lambda: conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1, 5)
    kiosk.publish(f"{K1}/up/alerts/paper_low", "", retain=True)
    assert wait_until(lambda: conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0, 5)


def test_command_line(broker: Mosquitto, tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text(PASSWORDS["fleet"] + "\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "fleet.ingest", "--url", broker.url, "--db",
                             str(tmp_path / "f.db"), "--username", "fleet", "--password-file", str(secret)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["event"] == "ingest.ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert json.loads(proc.stdout.readline())["event"] == "ingest.stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    bad = subprocess.run([sys.executable, "-m", "fleet.ingest", "--url", "http://x", "--db", str(tmp_path / "g.db")],
                         capture_output=True, text=True, env=env, cwd=REPO)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "mqtt.url" in bad.stderr
