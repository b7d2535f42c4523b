"""Power-loss safety: SIGKILL `kiosk simulate` at random moments; no completed sale is lost or doubled.

A sale counts as reported once its `sale.completed` line has reached us through the pipe. After each
kill the same database is checked (and then reused by the next trial, as a rebooted kiosk would).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TRIALS = int(os.environ.get("KIOSK_CRASH_TRIALS", "50"))


@pytest.fixture(scope="module")
def shift(tmp_path_factory) -> Path:
    """A long shift: 300 two-item sales, some by weight, so a kill can land anywhere."""
    steps = []
    for i in range(300):
        steps += ['  - scan: "6901234567892"', '  - scan: "6924743001015"']
        if i % 3 == 0:
            steps += ['  - plu: "4011"', f"  - weigh: {0.300 + i / 1000:.3f}"]
        steps += ["  - pay: alipay", "  - wallet: paid", "  - receipt: none"]
    path = tmp_path_factory.mktemp("crash") / "shift.yaml"
    path.write_text("name: long shift\nsteps:\n" + "\n".join(steps) + "\n", encoding="utf-8")
    return path


def run_and_kill(scenario: Path, db: Path, delay: float) -> list[dict]:
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "simulate", "--json", "--db", str(db), str(scenario)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    reported = []
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # the last line may be cut in half by the kill
            continue
        if event.get("event") == "sale.completed":
            reported.append(event)
    return reported


def test_sigkill_never_loses_or_doubles_a_completed_sale(shift, tmp_path):
    rng = random.Random(int(os.environ.get("KIOSK_CRASH_SEED", "2468")))
    db = tmp_path / "kiosk.db"
    all_reported: dict[str, str] = {}
    killed_mid_run = 0
    for trial in range(TRIALS):
        reported = run_and_kill(shift, db, rng.uniform(0.15, 1.2))
        for sale in reported:
            assert sale["sale_id"] not in all_reported, "a sale id was reported twice"
            all_reported[sale["sale_id"]] = sale["total"]
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"trial {trial}"
            stored = {sid: total for sid, total in conn.execute("SELECT sale_id, total_fen FROM sales")}
            for sale_id, total in all_reported.items():
                assert sale_id in stored, f"trial {trial}: reported sale {sale_id} was lost"
                assert stored[sale_id] == round(float(total) * 100), f"trial {trial}: {sale_id} total changed"
            # every stored sale is whole: its lines add up and its outbox message exists
            broken = conn.execute(
                "SELECT s.sale_id FROM sales s LEFT JOIN sale_lines l ON l.sale_id = s.sale_id "
                "GROUP BY s.sale_id HAVING coalesce(sum(l.amount_fen), -1) != s.total_fen").fetchall()
            assert not broken, f"trial {trial}: sales without their lines: {broken[:3]}"
            outbox = {json.loads(p)["sale_id"] for (p,) in conn.execute("SELECT payload FROM outbox WHERE topic='sales'")}
            assert outbox == set(stored), f"trial {trial}: sale and outbox row disagree"
            paid = dict(conn.execute("SELECT sale_id, sum(amount_fen) FROM payments WHERE status='paid' GROUP BY sale_id"))
            assert paid == stored, f"trial {trial}: a stored sale without its payment"
        finally:
            conn.close()
        if reported and len(reported) < 300:
            killed_mid_run += 1
    assert len(all_reported) > TRIALS, "the kills came too early to test anything"
    assert killed_mid_run >= TRIALS // 2, "most kills should land in the middle of a shift"
