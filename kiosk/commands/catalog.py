"""``kiosk catalog import|export|check|list``: catalog exchange as CSV (DESIGN 3.1, 3.3)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from kiosk import catalog
from kiosk.commands._common import add_config_argument, config_from, print_json
from kiosk.db import connect
from kiosk.errors import CatalogError, StoreError, UserError

_COLUMNS = ",".join(catalog.COLUMNS)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "catalog", help="import, export and check the product catalog (CSV)",
        description=f"Exchange the product catalog as UTF-8 CSV with the header {_COLUMNS}. "
                    "Import checks the whole file first and replaces the catalog only if every row is good.")
    parser.set_defaults(func=lambda args: _usage(parser))
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION")

    imp = sub.add_parser("import", help="replace the catalog with a CSV file (all or nothing)",
                         description="Check every row of FILE, then replace the whole catalog with it in "
                                     "one transaction. A bad file lists its problems by line and column "
                                     "and leaves the catalog unchanged.")
    imp.add_argument("file", metavar="FILE", help="catalog CSV file")
    _add_db_arguments(imp)
    imp.set_defaults(func=_import)

    exp = sub.add_parser("export", help="write the catalog to a CSV file",
                         description="Write the catalog in the import format; importing the file again "
                                     "gives the same catalog.")
    exp.add_argument("file", metavar="FILE", help="CSV file to write, or - for standard output")
    exp.add_argument("--bom", action="store_true",
                     help="start with a UTF-8 byte-order mark so Excel shows Chinese names correctly")
    _add_db_arguments(exp)
    exp.set_defaults(func=_export)

    chk = sub.add_parser("check", help="check a CSV file without importing it",
                         description="Report every problem in FILE by line and column; exit 2 if there is any.")
    chk.add_argument("file", metavar="FILE", help="catalog CSV file")
    chk.set_defaults(func=_check)

    lst = sub.add_parser("list", help="show the items in the catalog",
                         description="Show the catalog's items, or those whose name contains TEXT.")
    lst.add_argument("text", metavar="TEXT", nargs="?", help="only items whose name, PLU or GTIN matches")
    lst.add_argument("--language", choices=("zh", "en"), default="zh", help="name language (default zh)")
    lst.add_argument("--json", action="store_true", help="one JSON object per item and line")
    _add_db_arguments(lst)
    lst.set_defaults(func=_list)


def _add_db_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="PATH", help="kiosk database (default: the config's db path)")
    add_config_argument(parser)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db else config_from(args).db_path


def _open(path: Path) -> sqlite3.Connection:
    try:
        return connect(path)
    except StoreError as exc:
        raise UserError(f"{exc}; pass --db with a database path you can write") from None


def _import(args: argparse.Namespace) -> int:
    try:
        items = catalog.read_csv(args.file)  # check the whole file before touching the database
    except catalog.CatalogFileError as exc:
        sep = "; " if len(exc.problems) == 1 else "\n"
        raise CatalogError(f"{exc}{sep}nothing was imported; fix the file and import it again") from None
    path = _db_path(args)
    conn = _open(path)
    try:
        count = catalog.replace_items(conn, items)
    finally:
        conn.close()
    print(f"imported {count} items into {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not path.exists():
        raise UserError(f"database {path} does not exist; pass --db or --config for the kiosk's database")
    conn = _open(path)
    try:
        if args.file == "-":
            items = catalog.Catalog(conn).all()
            sys.stdout.buffer.write((("\ufeff" if args.bom else "") + catalog.to_csv(items)).encode("utf-8"))
            sys.stdout.flush()
            count = len(items)
        else:
            count = catalog.export_csv(conn, args.file, bom=args.bom)
    finally:
        conn.close()
    print(f"exported {count} items from {path} to {args.file}", file=sys.stderr if args.file == "-" else sys.stdout)
    return 0


def _check(args: argparse.Namespace) -> int:
    items = catalog.read_csv(args.file)
    print(f"{args.file}: {len(items)} items, no problems")
    return 0


def _list(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not path.exists():
        raise UserError(f"database {path} does not exist; pass --db or --config for the kiosk's database")
    conn = _open(path)
    try:
        store = catalog.Catalog(conn)
        items = store.search(args.text, args.language, limit=1_000_000) if args.text else store.all()
    finally:
        conn.close()
    for item in items:
        code = catalog.gtin_for_display(item.gtin) if item.gtin else item.plu
        if args.json:
            print_json({"gtin": item.gtin, "plu": item.plu, "name_zh": item.name_zh, "name_en": item.name_en,
                        "price": str(item.price), "unit": str(item.unit), "weight_g": item.weight_g,
                        "age_min": item.age_min, "tax_rate": str(item.tax_rate), "stock": item.stock,
                        "category": item.category})
        else:
            per = "/kg" if item.weighed else ""
            print(f"{code:<14} {item.price.display():>10}{per:<3} {item.name(args.language)}")
    return 0
