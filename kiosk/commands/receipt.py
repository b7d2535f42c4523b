"""``kiosk receipt SALE_ID [--printer URI | --png OUT]``: reprint a stored sale or preview it."""

from __future__ import annotations

import argparse
import sqlite3
import uuid
from pathlib import Path

from kiosk import db
from kiosk.commands._common import add_config_argument, config_from, print_line
from kiosk.commands.printer import open_cli_printer
from kiosk.errors import StoreError, UserError
from kiosk.peripherals.printer import PrinterUnavailable, ReceiptSettings, layout_sale
from kiosk.peripherals.printer.png import save_png
from kiosk.sale import Sale
from kiosk.store import SaleStore


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "receipt", help="reprint a stored sale's receipt, or render it to PNG",
        description="Print the receipt of a stored sale again (marked REPRINT) on --printer (default: "
                    "printer.uri in the config), or render it to a PNG file with --png. Exit 2 when "
                    "the sale or the database does not exist, 1 when the printer reports a fault.")
    parser.add_argument("sale_id", metavar="SALE_ID")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--printer", metavar="URI", help="printer URI (DESIGN 3.5)")
    where.add_argument("--png", metavar="OUT", help="write the receipt as a PNG image here instead")
    parser.add_argument("--db", metavar="PATH", help="database file (default: from the config)")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def load_sale(path: Path, sale_id: str, kiosk_id: str) -> Sale:
    if not path.is_file():
        raise UserError(f"database {path} does not exist; pass --db with the kiosk database")
    try:
        conn = db.connect(path, migrate=False)
    except StoreError as exc:
        raise UserError(f"{exc}; check that {path} is a kiosk database") from None
    try:
        sale = SaleStore(conn, kiosk_id=kiosk_id).sale(sale_id)
    except (sqlite3.DatabaseError, StoreError) as exc:
        raise UserError(f"database {path} cannot be read ({exc}); check that it is a kiosk database") from None
    finally:
        conn.close()
    if sale is None:
        raise UserError(f"sale {sale_id!r} is not in {path}; list recent sales with `kiosk db sales`")
    return sale


def run(args: argparse.Namespace) -> int:
    cfg = config_from(args)
    sale = load_sale(Path(args.db) if args.db else cfg.db_path, args.sale_id, cfg.kiosk.id)
    if args.png:
        out = Path(args.png)
        if not out.parent.is_dir():
            raise UserError(f"folder {out.parent} does not exist; choose where to write the PNG with --png")
        try:
            img = save_png(layout_sale(sale, ReceiptSettings.from_config(cfg)), out)
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
        print_line(f"receipt of sale {sale.sale_id} written to {out} ({img.width}x{img.height} px)")
        return 0
    with open_cli_printer(args) as printer:
        try:
            result = printer.print_receipt(sale, f"reprint:{sale.sale_id}:{uuid.uuid4().hex}", reprint=True)
        except PrinterUnavailable as exc:
            print_line(f"receipt of sale {sale.sale_id} NOT printed: {exc}")
            return 1
        state = result.status
        note = "" if state.state == "ok" else f" (printer now: {state.state} {state.reason})"
        print_line(f"receipt of sale {sale.sale_id} printed on {printer.link.name}{note}")
        return 0
