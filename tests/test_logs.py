import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_log_lines_carry_kiosk_and_sale_ids_and_no_pin():
    proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "examples/scenarios/06-age-restricted.yaml"],
                          capture_output=True, text=True, cwd=ROOT, env={"KIOSK_LOG_LEVEL": "INFO", "PATH": "/usr/bin"})
    lines = [line for line in proc.stderr.splitlines() if "sale committed" in line]
    assert len(lines) == 1
    assert " kiosk=kiosk-001 sale=kiosk-001-" in lines[0] and "total=12.00" in lines[0]
    assert "2468" not in proc.stderr
