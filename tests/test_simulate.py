"""``kiosk simulate`` end to end: every shipped scenario through the real CLI, and bad scenarios."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


def simulate(*args: str, cwd: Path = ROOT) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "--json", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


def names(events: list[dict]) -> list[str]:
    return [e["event"] for e in events]


def sales(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"] == "sale.completed"]


def test_ships_at_least_ten_scenarios():
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_example_runs_clean(path):
    code, events, stderr = simulate(str(path))
    assert code == 0, stderr
    assert "error" not in names(events)
    assert "Traceback" not in stderr
    for sale in sales(events):
        paid = sum(int(p["amount"].replace(".", "")) for p in sale["payments"] if p["status"] == "paid")
        lines = sum(int(ln["amount"].replace(".", "").replace("-", "")) * (-1 if ln["amount"].startswith("-") else 1)
                    for ln in sale["lines"])
        assert paid == lines == int(sale["total"].replace(".", "")), sale


EXPECTED_TOTALS = {
    "01-plain-basket": ["14.50"],
    "02-repeated-scans": ["21.00"],
    "03-produce-by-weight": ["21.58"],  # 3.55 + 14.53 + 3.50
    "04-price-embedded": ["49.10"],
    "05-unknown-barcode": ["3.50"],
    "06-age-restricted": ["12.00"],
    "07-void-with-staff": ["3.50"],
    "08-abandoned-cart": [],
    "09-declined-then-paid": ["17.40"],
    "10-help-call": ["3.50"],
    "11-bagging-security": ["11.00"],
    "12-member-and-coupon": ["111.50"],
    "13-payment-timeout-and-cancel": ["3.50"],
    "14-shift": ["3.50", "15.75", "16.80"],  # 7.50 + 9.98 x 0.827 kg
}


@pytest.mark.parametrize("stem, totals", EXPECTED_TOTALS.items())
def test_scenario_outcomes(stem, totals):
    _, events, _ = simulate(str(ROOT / "examples" / "scenarios" / f"{stem}.yaml"))
    assert [s["total"] for s in sales(events)] == totals


def test_interventions_are_reported_with_reason_and_staff():
    _, events, _ = simulate(str(ROOT / "examples/scenarios/07-void-with-staff.yaml"))
    assert {"event": "intervention.raised", "reason": "void_request", "line": 2} in events
    assert {"event": "intervention.cleared", "reason": "void_request", "line": 2, "by": "S0002"} in events
    _, events, _ = simulate(str(ROOT / "examples/scenarios/08-abandoned-cart.yaml"))
    assert names(events)[-2:] == ["cart.abandoned", "session.ended"] and "idle.prompt" in names(events)
    assert events[-1]["reason"] == "abandoned"


def test_unknown_barcode_does_not_lock_the_lane():
    _, events, _ = simulate(str(ROOT / "examples/scenarios/05-unknown-barcode.yaml"))
    assert names(events).count("item.not_found") == 2
    assert "intervention.raised" not in names(events)


def test_declined_payment_is_kept_on_the_sale():
    _, events, _ = simulate(str(ROOT / "examples/scenarios/09-declined-then-paid.yaml"))
    (sale,) = sales(events)
    assert [(p["method"], p["status"]) for p in sale["payments"]] == [("alipay", "declined"), ("wechat", "paid")]


def test_sales_are_stored_in_the_db_across_runs(tmp_path):
    db = tmp_path / "kiosk.db"
    for _ in range(2):
        code, events, _ = simulate(str(ROOT / "examples/scenarios/14-shift.yaml"), "--db", str(db))
        assert code == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 6
    assert conn.execute("SELECT count(*) FROM outbox WHERE topic = 'sales'").fetchone()[0] == 6
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_scenario_catalog_option(tmp_path):
    csv = tmp_path / "tiny.csv"
    csv.write_text("gtin,plu,name_zh,name_en,price,unit,weight_g,weight_tol_g,tare_g,age_min,tax_rate,stock,category\n"
                   "4006381333931,,铅笔,Pencil,1.20,each,10,,0,0,0.13,5,office\n", encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("steps:\n  - scan: '4006381333931'\n  - pay: sim\n  - wallet: paid\n", encoding="utf-8")
    code, events, stderr = simulate(str(scenario), "--catalog", str(csv))
    assert code == 0, stderr
    assert [s["total"] for s in sales(events)] == ["1.20"]


@pytest.mark.parametrize("text, where", [
    ("steps: [{scan: '6901234567892'}, {fly: 3}]", "step 2"),
    ("steps: [{weigh: 0.5}]", "step 1 (weigh"),
    ("steps: [{scan: '6901234567892'}, {void: 7}]", "step 2 (void"),
    ("steps: [{wallet: paid}]", "step 1 (wallet"),
    ("steps: [{pay: bitcoin}]", "step 1 (pay)"),
    ("steps: [{staff: 'S0001'}]", "step 1 (staff)"),
    ("steps: [{pay: alipay}]", "step 1 (pay"),
    ("steps: [{receipt: print}]", "step 1 (receipt"),
    ("steps: []", "non-empty"),
    ("steps: [{scan: 1, qty: 2}]", "step 1"),
    ("steps: [{scan: 01234565}]", "quotes"),
    ("steps: [{plu: 4011}]", "quotes"),
    ("name: [unclosed", "not valid YAML"),
    ("- just a list", "mapping"),
])
def test_bad_scenarios_end_with_an_error_event(tmp_path, text, where):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, events, stderr = simulate(str(path))
    assert code == 1
    assert events[-1]["event"] == "error" and where in events[-1]["message"], events[-1]
    assert "Traceback" not in stderr


def test_missing_scenario_file(tmp_path):
    code, events, stderr = simulate(str(tmp_path / "nope.yaml"))
    assert code == 1 and "does not exist" in events[-1]["message"]


def test_bad_config_is_exit_2_without_traceback(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text("[scale]\nprotocol = 'abacus'\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", str(SCENARIOS[0]), "--config", str(cfg)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "scale.protocol" in proc.stderr and "abacus" in proc.stderr and "toledo8217" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_printer_option_prints_real_escpos_bytes(tmp_path):
    out = tmp_path / "receipt.bin"
    code, events, stderr = simulate(str(ROOT / "examples/scenarios/14-shift.yaml"), "--printer", f"file:{out}")
    assert code == 0, stderr
    data = out.read_bytes()
    assert data.count(b"\x1d\x56") == names(events).count("receipt.printed") == 3  # one cut per receipt
    assert "可乐".encode("gb18030") in data and b"\x1c\x26" in data  # Chinese mode, GB18030


def test_bad_printer_uri_is_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", str(SCENARIOS[0]), "--printer", "lpt1:"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "lpt1" in proc.stderr and "Traceback" not in proc.stderr


def test_security_follows_the_config_file_unless_the_scenario_says_otherwise(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text("[security]\nenabled = true\n", encoding="utf-8")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("steps:\n  - scan: '6901234567892'\n  - pay: sim\n", encoding="utf-8")
    code, events, _ = simulate(str(scenario), "--config", str(cfg))
    assert code == 1 and "items_not_bagged" in events[-1]["message"]  # the can was never bagged
    scenario.write_text("config: {security: {enabled: false}}\nsteps:\n  - scan: '6901234567892'\n"
                        "  - pay: sim\n  - wallet: paid\n", encoding="utf-8")
    code, events, _ = simulate(str(scenario), "--config", str(cfg))
    assert code == 0 and sales(events)
