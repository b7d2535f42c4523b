"""Schema migrations (kiosk.db) and the ``kiosk db`` command, on real SQLite files.

Each migration number has a SEED: rows written at that schema version that must survive every
later migration. Adding migration N means adding SEEDS[N] (the coverage test says so).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from kiosk import db
from kiosk.errors import StoreError
from kiosk.money import Money
from kiosk.sale import Payment, Sale
from kiosk.store import SaleStore
from tests.test_store import KIOSK, realistic_sale


def _seed_v1(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO items (gtin, name_zh, name_en, price_fen, unit, stock) "
                 "VALUES ('06901234567892', '可乐', 'Cola', 350, 'each', 12)")
    conn.execute("INSERT INTO sales (sale_id, kiosk_id, store, lane, started_at, completed_at, total_fen,"
                 " currency, receipt_token) VALUES ('S-v1', 'k1', 's', 1, '2026-01-01T00:00:00.000000+00:00',"
                 " '2026-01-01T00:01:00.000000+00:00', 700, 'CNY', 'R-v1')")
    conn.execute("INSERT INTO sale_lines (sale_id, line_no, kind, gtin, name_zh, name_en, qty,"
                 " unit_price_fen, amount_fen, tax_rate) VALUES ('S-v1', 1, 'item', '06901234567892',"
                 " '可乐', 'Cola', 2, 350, 700, '0.13')")
    conn.execute("INSERT INTO payments (sale_id, seq, method, amount_fen, status) VALUES ('S-v1', 1, 'sim', 700, 'paid')")
    conn.execute("INSERT INTO audit_log (at, kind, detail) VALUES ('2026-01-01T00:01:00.000000+00:00', 'x', '{}')")
    conn.execute("INSERT INTO outbox (msg_id, topic, payload, created_at) "
                 "VALUES ('m-v1', 'sales', '{\"event\":\"sale.completed\"}', '2026-01-01T00:01:00.000000+00:00')")


def _check_v1(conn: sqlite3.Connection) -> None:
    assert conn.execute("SELECT stock FROM items WHERE gtin = '06901234567892'").fetchone()[0] == 12
    sale = SaleStore(conn, kiosk_id="k1").sale("S-v1")
    assert sale is not None and sale.total.fen == 700
    assert sale.payments == (Payment("sim", Money(700), "paid"),)
    assert sale.lines[0].qty == 2 and sale.receipt_token == "R-v1"
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    assert [tuple(r) for r in conn.execute("SELECT msg_id FROM outbox")] == [("m-v1",)]


# version -> (write rows valid at that version, check they are intact at the latest version)
SEEDS: dict[int, tuple[Callable[[sqlite3.Connection], None], Callable[[sqlite3.Connection], None]]] = {
    1: (_seed_v1, _check_v1),
}


def test_every_migration_has_a_seed() -> None:
    missing = [n for n in range(1, db.latest_version() + 1) if n not in SEEDS]
    assert not missing, f"add SEEDS entries for migrations {missing} in tests/test_migrations.py"


def test_migrations_are_numbered_and_apply_from_empty(tmp_path: Path) -> None:
    names = [m.name for m in db.migrations()]
    assert names[0] == "0001_initial.sql" and len(names) == db.latest_version()
    conn = db.connect(tmp_path / "new.db")
    assert db.schema_version(conn) == db.latest_version()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"items", "sales", "sale_lines", "payments", "audit_log", "outbox"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.migrate_to(conn, db.latest_version()) == []  # nothing left to apply
    conn.close()


@pytest.mark.parametrize("start", range(0, db.latest_version()))
def test_upgrade_from_every_earlier_version_keeps_data(tmp_path: Path, start: int) -> None:
    path = tmp_path / f"from-v{start}.db"
    old = db.connect(path, target=start)
    assert db.schema_version(old) == start
    for version in range(1, start + 1):
        SEEDS[version][0](old)
    old.close()

    conn = db.connect(path)
    assert db.schema_version(conn) == db.latest_version()
    for version in range(1, start + 1):
        SEEDS[version][1](conn)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()


def test_seeded_latest_schema_is_usable(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "k.db")
    for seed, check in SEEDS.values():
        seed(conn)
        check(conn)
    conn.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = db.connect(path)
    newer = db.latest_version() + 1
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    with pytest.raises(StoreError, match=f"schema version {newer} is newer than this firmware"):
        db.connect(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == newer  # left as it was
    raw.close()


def _fake_migrations(monkeypatch: pytest.MonkeyPatch, folder: Path, files: dict[str, str]) -> None:
    folder.mkdir()
    for name, sql in files.items():
        (folder / name).write_text(sql, encoding="utf-8")
    monkeypatch.setattr(db, "resources", SimpleNamespace(files=lambda package: folder))


@pytest.mark.parametrize("files", [
    {"0001_a.sql": "CREATE TABLE a (x);", "0003_c.sql": "CREATE TABLE c (x);"},
    {"0002_b.sql": "CREATE TABLE b (x);"},
    {"0001_a.sql": "CREATE TABLE a (x);", "0002_b.sql": "CREATE TABLE b (x);", "0002_again.sql": "SELECT 1;"},
])
def test_out_of_sequence_migrations_are_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 files: dict[str, str]) -> None:
    _fake_migrations(monkeypatch, tmp_path / "migrations", files)
    with pytest.raises(StoreError, match="out of sequence"):
        db.migrations()
    with pytest.raises(StoreError, match="out of sequence"):
        db.connect(tmp_path / "k.db")


def test_failed_migration_rolls_back_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_migrations(monkeypatch, tmp_path / "migrations", {
        "0001_a.sql": "CREATE TABLE a (x);",
        "0002_b.sql": "CREATE TABLE b (x);\nINSERT INTO nowhere VALUES (1);",
    })
    with pytest.raises(StoreError, match="migration 0002_b.sql failed"):
        db.connect(tmp_path / "k.db")
    conn = db.connect(tmp_path / "k.db", migrate=False)
    assert db.schema_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "a" in tables and "b" not in tables
    conn.close()


# -- kiosk db (subprocess, as an operator runs it) ---------------------------------------------

def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KIOSK_CONFIG", "KIOSK_DEBUG")}
    return subprocess.run([sys.executable, "-m", "kiosk", "db", *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=Path(__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "kiosk.db"
    conn = db.connect(path)
    store = SaleStore(conn, kiosk_id=KIOSK)
    store.commit_sale(realistic_sale("S-1"))
    store.commit_sale(realistic_sale("S-2"))
    conn.close()
    return path


def test_cli_status(shop_db: Path) -> None:
    result = kiosk("status", "--db", str(shop_db))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"path: {shop_db}" in out and f"schema: {db.latest_version()} (latest)" in out
    assert "sales: 2" in out and "outbox: 2" in out and "integrity: ok" in out
    assert "outbox oldest:" in out
    js = kiosk("status", "--db", str(shop_db), "--json")
    status = json.loads(js.stdout)
    assert status["sales_count"] == 2 and status["outbox_count"] == 2 and status["integrity"] == "ok"
    assert status["schema_version"] == status["latest_version"] == db.latest_version()
    assert status["items_count"] == 0 and isinstance(status["outbox_oldest_age_s"], float)


def test_cli_migrate_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.db"
    first = kiosk("migrate", "--db", str(path))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {m.name}" for m in db.migrations()]
    second = kiosk("migrate", "--db", str(path))
    assert second.returncode == 0 and "up to date" in second.stdout


def _damage(path: Path, how: str) -> None:
    conn = db.connect(path)
    conn.executemany("INSERT INTO audit_log (at, kind) VALUES (?, ?)", [(f"t{i:05d}", "k") for i in range(3000)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA writable_schema = ON")
    if how == "index":  # the index no longer matches its table: integrity_check lists each row
        conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX audit_log_at ON audit_log (kind)'"
                     " WHERE name = 'audit_log_at'")
    else:  # the index's root is the table's page: reading it fails outright
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'audit_log'").fetchone()[0]
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'audit_log_at'", (root,))
    conn.close()


def test_cli_check_ok(shop_db: Path) -> None:
    ok = kiosk("check", "--db", str(shop_db))
    assert (ok.returncode, ok.stdout.strip()) == (0, "ok")


def test_cli_check_lists_problems_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    _damage(path, "index")
    bad = kiosk("check", "--db", str(path))
    assert bad.returncode == 1
    assert "missing from index audit_log_at" in bad.stdout.splitlines()[0]
    status = kiosk("status", "--db", str(path))
    assert status.returncode == 1 and "integrity: row 1 missing from index" in status.stdout
    assert "more: run `kiosk db check`" in status.stdout


def test_cli_malformed_database_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "malformed.db"
    _damage(path, "pages")
    for action in ("check", "status"):  # `sales` never reads the damaged pages
        result = kiosk(action, "--db", str(path))
        assert result.returncode == 2, (action, result)
        (line,) = result.stderr.strip().splitlines()
        assert "malformed" in line and str(path) in line and "restore a backup" in line


def test_cli_sales(shop_db: Path) -> None:
    text = kiosk("sales", "--db", str(shop_db), "--limit", "1")
    assert text.returncode == 0, text.stderr
    (line,) = text.stdout.splitlines()
    sale: Sale = realistic_sale("S-2")
    assert "S-2" in line and sale.total.display() in line and "alipay" in line and "wechat" not in line
    assert "2026-03-01 10:30:15" in line  # shown in Asia/Shanghai
    js = kiosk("sales", "--db", str(shop_db), "--json")
    events = [json.loads(x) for x in js.stdout.splitlines()]
    assert [e["sale_id"] for e in events] == ["S-2", "S-1"]
    assert events[0] == realistic_sale("S-2").to_event()


def test_cli_sales_limit_must_be_positive(shop_db: Path) -> None:
    result = kiosk("sales", "--db", str(shop_db), "--limit", "0")
    assert result.returncode == 2 and "--limit" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("action", ["status", "check", "sales", "migrate"])
def test_cli_non_sqlite_file_is_one_clear_line(tmp_path: Path, action: str) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"this is a shopping list, not a database\n" * 100)
    result = kiosk(action, "--db", str(junk))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert str(junk) in line and "not a database" in line


@pytest.mark.parametrize("action", ["status", "check", "sales"])
def test_cli_missing_database_is_one_clear_line(tmp_path: Path, action: str) -> None:
    missing = tmp_path / "nowhere" / "kiosk.db"
    result = kiosk(action, "--db", str(missing))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "does not exist" in line and "kiosk db migrate" in line
    assert not missing.parent.exists()  # looking never creates anything


def test_cli_folder_as_database(tmp_path: Path) -> None:
    result = kiosk("status", "--db", str(tmp_path))
    assert result.returncode == 2 and "is a folder" in result.stderr


def test_cli_newer_database(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = db.connect(path)
    conn.execute(f"PRAGMA user_version = {db.latest_version() + 1}")
    conn.close()
    status = kiosk("status", "--db", str(path))
    assert status.returncode == 1 and "newer than this firmware" in status.stdout
    migrate = kiosk("migrate", "--db", str(path))
    assert migrate.returncode == 2 and "newer than this firmware" in migrate.stderr
    assert "Traceback" not in migrate.stderr


def test_cli_db_path_from_config(tmp_path: Path, shop_db: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndb = "{shop_db}"\n', encoding="utf-8")
    result = kiosk("status", "--config", str(config))
    assert result.returncode == 0 and f"path: {shop_db}" in result.stdout
    bad = kiosk("status", "--config", str(tmp_path / "absent.toml"))
    assert bad.returncode == 2 and "absent.toml" in bad.stderr


@pytest.mark.parametrize("args", [[], ["status"], ["migrate"], ["check"], ["sales"]])
def test_cli_help(args: list[str]) -> None:
    result = kiosk(*args, "--help")
    assert result.returncode == 0 and "usage: kiosk db" in result.stdout
