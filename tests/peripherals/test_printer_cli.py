"""``kiosk printer test|status`` and ``kiosk receipt`` as a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk import db
from kiosk.peripherals.printer import PtyPrinter
from kiosk.store import SaleStore
from tests.peripherals.test_printer_receipt import make_sale

ROOT = Path(__file__).resolve().parents[2]


def kiosk(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "KIOSK_DEBUG")}
    cmd = [sys.executable, "-m", "kiosk", *args] + (["--config", str(config)] if config else [])
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nid = "kiosk-001"\ndata_dir = "{tmp_path}"\n[printer]\nwidth_chars = 42\n',
                    encoding="utf-8")
    return path


@pytest.fixture
def sales_db(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.db"
    conn = db.connect(path)
    assert SaleStore(conn, kiosk_id="kiosk-001").commit_sale(make_sale())
    conn.close()
    return path


def test_printer_test_to_a_file(tmp_path: Path, config: Path) -> None:
    out = tmp_path / "test.bin"
    result = kiosk("printer", "test", "--printer", f"file:{out}", config=config)
    assert result.returncode == 0, result.stderr
    assert "test page printed" in result.stdout and "status_unknown" in result.stdout
    data = out.read_bytes()
    assert data.startswith(b"\x1b@") and data.endswith(b"\x1dV\x01")
    assert "打印机测试".encode("gb18030") in data and b"KR1:TEST" in data


def test_printer_test_json(config: Path) -> None:
    result = kiosk("printer", "test", "--printer", "dummy:", "--json", config=config)
    assert result.returncode == 0
    (line,) = result.stdout.splitlines()
    data = json.loads(line)
    assert data["printed"] is True and data["status"]["reason"] == "status_unknown"


def test_printer_on_a_serial_port(config: Path) -> None:
    with PtyPrinter() as sim:
        uri = f"serial:{sim.port}?baudrate=115200"
        ok = kiosk("printer", "status", "--printer", uri, config=config)
        assert ok.returncode == 0 and "status: ok" in ok.stdout and "paper_near_end" in ok.stdout
        printed = kiosk("printer", "test", "--printer", uri, config=config)
        assert printed.returncode == 0 and "test page printed" in printed.stdout
        sim.set_condition(paper="out")
        out = kiosk("printer", "test", "--printer", uri, "--json", config=config)
        assert out.returncode == 1
        data = json.loads(out.stdout)
        assert data["printed"] is False and data["status"]["reason"] == "paper_out"
        assert data["status"]["paper_end"] is True
        assert sim.cuts == 1  # the second test page was never sent
        sim.silent = True
        silent = kiosk("printer", "status", "--printer", uri, config=config)
        assert silent.returncode == 1 and "no_answer" in silent.stdout


@pytest.mark.parametrize("uri", ["serial:/dev/no-such-printer", "lpt:/dev/lp0", "tcp://127.0.0.1:1",
                                 "file:/no/such/folder/r.bin"])
def test_printer_that_cannot_be_opened_is_exit_2(uri: str, config: Path) -> None:
    result = kiosk("printer", "test", "--printer", uri, config=config)
    assert result.returncode == 2
    assert result.stderr.startswith("kiosk: error: ") and len(result.stderr.strip().splitlines()) == 1


def test_receipt_png(tmp_path: Path, config: Path, sales_db: Path) -> None:
    out = tmp_path / "receipt.png"
    result = kiosk("receipt", "S-20240501-0001", "--png", str(out), "--db", str(sales_db), config=config)
    assert result.returncode == 0, result.stderr
    assert "written to" in result.stdout
    from PIL import Image

    with Image.open(out) as img:
        assert img.width == 42 * 12 + 32 and img.height > 900


def test_receipt_reprint_to_a_printer(tmp_path: Path, config: Path, sales_db: Path) -> None:
    out = tmp_path / "r.bin"
    for _ in range(2):  # a staff reprint prints every time it is asked
        result = kiosk("receipt", "S-20240501-0001", "--printer", f"file:{out}", "--db", str(sales_db),
                       config=config)
        assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.count(b"\x1dV\x01") == 2
    assert "重印 REPRINT".encode("gb18030") in data and b"KR1:tok123ABC" in data


def test_unknown_sale_is_exit_2(tmp_path: Path, config: Path, sales_db: Path) -> None:
    result = kiosk("receipt", "NOPE", "--png", str(tmp_path / "x.png"), "--db", str(sales_db), config=config)
    assert result.returncode == 2
    assert "sale 'NOPE' is not in" in result.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("args", [
    ["--db", "/no/such/kiosk.db"],
    ["--png", "/no/such/folder/x.png"],
    ["--png", "x.png", "--printer", "dummy:"],
])
def test_receipt_bad_arguments_are_exit_2(args: list[str], config: Path, sales_db: Path) -> None:
    if "--db" not in args:
        args = [*args, "--db", str(sales_db)]
    result = kiosk("receipt", "S-20240501-0001", *args, config=config)
    assert result.returncode == 2, result.stdout
