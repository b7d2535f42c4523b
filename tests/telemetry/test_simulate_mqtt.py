"""`kiosk simulate --mqtt URL` against a real Mosquitto and the acknowledging fleet ingest."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from fleet.ingest import Ingest
from tests.telemetry.conftest import PASSWORDS, retained, wait_until

ROOT = Path(__file__).resolve().parents[2]
SHIFT = ROOT / "examples" / "scenarios" / "14-shift.yaml"


def kiosk_toml(tmp_path: Path, drain_s: float) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "kiosk-0001"\n[mqtt]\npassword = "{PASSWORDS["kiosk-0001"]}"\n'
                    f"drain_timeout_s = {drain_s}\nhealth_interval_s = 1\n", encoding="utf-8")
    return path


def simulate(url: str, config: Path, db: Path, scenario: Path = SHIFT) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "--json", "--mqtt", url, "--config",
                           str(config), "--db", str(db), str(scenario)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def fleet_sales(ingest_db: Path) -> list[str]:
    conn = sqlite3.connect(ingest_db)
    try:
        return [json.loads(p)["sale_id"] for (p,) in
                conn.execute("SELECT payload FROM messages WHERE kind = 'sales' ORDER BY id")]
    finally:
        conn.close()


def test_simulated_sales_reach_the_fleet_and_the_outbox_empties(broker, ingest, tmp_path):
    db = tmp_path / "kiosk.db"
    code, events, stderr = simulate(broker.url, kiosk_toml(tmp_path, 10), db)
    assert code == 0, stderr
    sold = [e["sale_id"] for e in events if e["event"] == "sale.completed"]
    assert len(sold) == 3
    assert events[-1] == {"event": "telemetry.stopped", "unacknowledged": 0, "last_error": None}
    assert fleet_sales(tmp_path / "fleet.db") == sold
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert retained(broker.port, "kiosk/v1/kiosk-0001/up/status") == b"offline"
    birth = json.loads(retained(broker.port, "kiosk/v1/kiosk-0001/up/birth"))
    assert birth["bdSeq"] >= 0


def test_a_later_run_sends_what_an_earlier_run_could_not(broker, tmp_path):
    db = tmp_path / "kiosk.db"
    config = kiosk_toml(tmp_path, 1)
    code, events, stderr = simulate(broker.url, config, db)  # no fleet is listening: nothing is acked
    assert code == 0
    first = [e["sale_id"] for e in events if e["event"] == "sale.completed"]
    assert events[-1]["unacknowledged"] >= 3 and "next run" in stderr
    ingest = Ingest(broker.url, tmp_path / "fleet.db", username="fleet", password=PASSWORDS["fleet"]).start()
    try:
        assert ingest.wait_ready(10)
        code, events, _ = simulate(broker.url, kiosk_toml(tmp_path, 10), db)
        second = [e["sale_id"] for e in events if e["event"] == "sale.completed"]
        assert code == 0 and events[-1]["unacknowledged"] == 0
        assert wait_until(lambda: len(fleet_sales(tmp_path / "fleet.db")) == 6)
        assert fleet_sales(tmp_path / "fleet.db") == first + second
    finally:
        ingest.stop()


def test_without_db_the_unsent_sales_are_kept_for_the_next_run(broker, tmp_path):
    config = kiosk_toml(tmp_path, 1)
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "--json", "--mqtt", broker.url, "--config",
                           str(config), str(SHIFT)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    kept = tmp_path / "var" / "kiosk-simulate.db"
    assert kept.exists() and str(kept.relative_to(tmp_path)) in proc.stderr
    conn = sqlite3.connect(kept)
    assert conn.execute("SELECT count(*) FROM outbox WHERE topic = 'sales'").fetchone()[0] == 3
