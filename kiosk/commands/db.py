"""``kiosk db``: look after the kiosk's SQLite database (status, migrate, check, recent sales)."""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk import db
from kiosk.commands._common import add_config_argument, config_from, print_json
from kiosk.errors import StoreError, UserError
from kiosk.outbox import utc_now
from kiosk.sale import LineKind
from kiosk.store import SaleStore

_COUNTED = ("items", "sales", "outbox")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db", help="database status, migrations, integrity check, recent sales",
        description="Look after the kiosk's SQLite database. The path is --db, else kiosk.db in "
                    "the config (default /var/lib/kiosk/kiosk.db). A missing, unreadable or "
                    "non-SQLite file is reported in one line with exit status 2.")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    status = sub.add_parser(
        "status", help="path, schema version, row counts, outbox backlog, integrity",
        description="Show the path, schema version against the latest this firmware knows, counts "
                    "of items, sales and outbox rows, the age of the oldest unsent message and the "
                    "integrity check. Exit 1 when the database is damaged or newer than this firmware.")
    _common(status)
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
    status.set_defaults(func=run_status)

    migrate = sub.add_parser(
        "migrate", help="create the database or bring its schema up to date",
        description="Create the database if needed and apply pending migrations, printing the name "
                    "of each one applied.")
    _common(migrate)
    migrate.set_defaults(func=run_migrate)

    check = sub.add_parser(
        "check", help="run PRAGMA integrity_check (exit 1 when damaged)",
        description="Run SQLite's integrity check; print 'ok' and exit 0, or each problem and exit 1.")
    _common(check)
    check.set_defaults(func=run_check)

    sales = sub.add_parser(
        "sales", help="list the most recent sales, newest first",
        description="List the most recent completed sales, newest first, with times in the store's "
                    "time zone. --json prints each sale as its sale.completed event, one per line.")
    _common(sales)
    sales.add_argument("--limit", type=_positive, default=20, metavar="N", help="how many (default 20)")
    sales.add_argument("--json", action="store_true", help="one JSON object per line")
    sales.set_defaults(func=run_sales)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="database file (default: from the config)")
    add_config_argument(parser)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _path(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else config_from(args).db_path


@contextmanager
def _open(path: Path, *, create: bool = False) -> Iterator[sqlite3.Connection]:
    """Open without migrating; every SQLite failure becomes one clear line and exit 2."""
    if not create and not path.exists():
        raise UserError(f"database {path} does not exist; pass --db PATH or create it with `kiosk db migrate`")
    if path.is_dir():
        raise UserError(f"database {path} is a folder; pass --db with the database file")
    try:
        conn = db.connect(path, migrate=False)
    except StoreError as exc:
        raise UserError(f"{exc}; check the path and that it is a kiosk database") from None
    try:
        yield conn
    except sqlite3.DatabaseError as exc:
        raise UserError(f"database {path} cannot be read ({exc}); it is damaged: "
                        "restore a backup or move it aside and run `kiosk db migrate`") from None
    except StoreError as exc:
        raise UserError(str(exc)) from None
    finally:
        conn.close()


def _integrity(conn: sqlite3.Connection) -> list[str]:
    return [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]


def run_status(args: argparse.Namespace) -> int:
    path = _path(args)
    with _open(path) as conn:
        version, latest = db.schema_version(conn), db.latest_version()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        counts = {t: (int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) if t in tables else None)
                  for t in _COUNTED}
        oldest = None
        if "outbox" in tables:
            oldest = SaleStore(conn, kiosk_id="").outbox.oldest_age_s(utc_now())
        problems = _integrity(conn)
    ok = problems == ["ok"]
    if args.json:
        print_json({"path": str(path), "schema_version": version, "latest_version": latest,
                    **{f"{t}_count": n for t, n in counts.items()}, "outbox_oldest_age_s": oldest,
                    "integrity": "ok" if ok else problems})
    else:
        if version > latest:
            schema = f"{version}, newer than this firmware knows ({latest}): install newer firmware"
        elif version < latest:
            schema = f"{version} of {latest} (run `kiosk db migrate`)"
        else:
            schema = f"{version} (latest)"
        print(f"path: {path}")
        print(f"schema: {schema}")
        for table, n in counts.items():
            print(f"{table}: {'-' if n is None else n}")
        print(f"outbox oldest: {'-' if oldest is None else f'{oldest:.1f} s'}")
        more = f" (and {len(problems) - 3} more: run `kiosk db check`)" if len(problems) > 3 else ""
        print(f"integrity: {'ok' if ok else '; '.join(problems[:3]) + more}")
    return 0 if ok and version <= latest else 1


def run_migrate(args: argparse.Namespace) -> int:
    path = _path(args)
    with _open(path, create=True) as conn:
        before = db.schema_version(conn)
        applied = db.migrate_to(conn, db.latest_version())
    for name in applied:
        print(f"applied {name}")
    if not applied:
        print(f"{path} is up to date (schema {before})")
    return 0


def run_check(args: argparse.Namespace) -> int:
    path = _path(args)
    with _open(path) as conn:
        problems = _integrity(conn)
    for line in problems:
        print(line)
    return 0 if problems == ["ok"] else 1


def run_sales(args: argparse.Namespace) -> int:
    path = _path(args)
    zone = _zone(args)
    with _open(path) as conn:
        if db.schema_version(conn) < 1:
            raise UserError(f"database {path} has no tables yet; run `kiosk db migrate`")
        sales = SaleStore(conn, kiosk_id="").sales(limit=args.limit)
    for sale in sales:
        if args.json:
            print_json(sale.to_event())
        else:
            when = sale.completed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            paid = ",".join(p.method for p in sale.payments if p.status == "paid") or "-"
            lines = sum(line.qty for line in sale.lines if line.kind is LineKind.ITEM)
            print(f"{when}  {sale.sale_id}  {sale.total.display():>10}  {lines:>3} items  {paid}")
    return 0


def _zone(args: argparse.Namespace) -> ZoneInfo:
    name = config_from(args).kiosk.timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"config: kiosk.timezone = {name!r} is not a known time zone; "
                        "use a name such as Asia/Shanghai") from None
