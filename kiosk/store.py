"""The durable sale store: completed sales, the audit trail and their outbox messages.

Every write is one ``BEGIN IMMEDIATE`` transaction that also inserts the outbox row reporting it,
so a sale the kiosk called completed is on disk together with the message that tells the fleet
(DESIGN 5). Committing a sale is idempotent by ``sale_id``: a retry after a crash writes nothing.

Times are stored as UTC ISO-8601 text (naive datetimes are taken as UTC) and come back as aware
UTC datetimes. ``now`` always comes from the injected clock. See ``kiosk.outbox`` for threads.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from kiosk.clock import utc_now
from kiosk.db import transaction
from kiosk.errors import StoreError
from kiosk.money import Money
from kiosk.outbox import Clock, Outbox, dump_json, from_utc_iso, to_utc_iso
from kiosk.sale import LineKind, Payment, Sale, SaleLine

SALES_TOPIC = "sales"
EVENTS_TOPIC = "events"
_ENVELOPE_KEYS = frozenset({"event", "msg_id", "kiosk_id", "ts", "seq", "is_historical"})


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    kind: str
    sale_id: str | None
    staff_id: str | None
    detail: dict[str, Any]


class SaleStore:
    """Sales, audit log and outbox over one connection from ``kiosk.db.connect``."""

    def __init__(self, conn: sqlite3.Connection, *, kiosk_id: str, clock: Clock = utc_now,
                 outbox: Outbox | None = None) -> None:
        self.conn = conn
        self.kiosk_id = kiosk_id
        self.clock = clock
        self.outbox = outbox if outbox is not None else Outbox(conn, clock=clock)
        self.lock = self.outbox.lock  # one lock per connection, shared with the outbox

    # -- writing ----------------------------------------------------------------------------

    def commit_sale(self, sale: Sale, *, kiosk_id: str | None = None) -> bool:
        """Store a paid sale with its audit row, outbox message and stock changes, atomically.

        Returns False (and writes nothing) when ``sale.sale_id`` is already stored.
        """
        kiosk = kiosk_id or self.kiosk_id
        if sale.kiosk_id != kiosk:
            raise ValueError(f"sale {sale.sale_id} belongs to kiosk {sale.kiosk_id!r}, not {kiosk!r}")
        if any("," in staff for staff in sale.attendants):
            raise ValueError(f"sale {sale.sale_id}: staff ids cannot contain commas")
        now = self.clock()
        payload = {**sale.to_event(), "kiosk_id": kiosk, "ts": to_utc_iso(now)}
        audit = dump_json({"total": str(sale.total), "lines": len(sale.lines),
                           "payments": [p.status for p in sale.payments]})
        with self.lock, self._atomic(f"cannot store sale {sale.sale_id}") as conn:
            if conn.execute("SELECT 1 FROM sales WHERE sale_id = ?", (sale.sale_id,)).fetchone():
                return False
            conn.execute(
                "INSERT INTO sales (sale_id, kiosk_id, store, lane, started_at, completed_at, total_fen,"
                " currency, member_id, receipt_token, attendants) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (sale.sale_id, sale.kiosk_id, sale.store, sale.lane, to_utc_iso(sale.started_at),
                 to_utc_iso(sale.completed_at), sale.total.fen, sale.currency, sale.member_id,
                 sale.receipt_token, ",".join(sale.attendants)))
            conn.executemany(
                "INSERT INTO sale_lines (sale_id, line_no, kind, gtin, plu, name_zh, name_en, qty,"
                " weight_g, unit_price_fen, amount_fen, tax_rate, age_min, code)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(sale.sale_id, ln.line_no, str(ln.kind), ln.gtin, ln.plu, ln.name_zh, ln.name_en,
                  ln.qty, ln.weight_g, ln.unit_price.fen, ln.amount.fen, str(ln.tax_rate), ln.age_min,
                  ln.code) for ln in sale.lines])
            conn.executemany(
                "INSERT INTO payments (sale_id, seq, method, amount_fen, status, reference)"
                " VALUES (?,?,?,?,?,?)",
                [(sale.sale_id, n, p.method, p.amount.fen, p.status, p.reference)
                 for n, p in enumerate(sale.payments, start=1)])
            self._take_stock(conn, sale.lines)
            conn.execute("INSERT INTO audit_log (at, kind, sale_id, detail) VALUES (?, ?, ?, ?)",
                         (to_utc_iso(now), "sale.completed", sale.sale_id, audit))
            self.outbox.add(conn, SALES_TOPIC, payload, at=now)
        return True

    def record_event(self, kind: str, detail: Mapping[str, Any], *, sale_id: str | None = None,
                     staff_id: str | None = None, publish: bool = True) -> str | None:
        """Write an audit row and (if ``publish``) its ``events`` outbox message atomically.

        For interventions, voids, abandoned carts, feedback. Returns the message's ``msg_id``,
        or None when not published. ``detail`` must be JSON (Money, Decimal, datetime and enums
        are written as text); anything else raises ValueError and writes nothing.
        """
        if not kind:
            raise ValueError("an audit event needs a kind")
        clash = _ENVELOPE_KEYS & set(detail)
        if clash:
            raise ValueError(f"event detail cannot use the reserved key {sorted(clash)[0]!r}")
        try:  # fails before any write
            plain = json.loads(json.dumps(dict(detail), default=_plain, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event {kind}: {exc}") from None
        now = self.clock()
        payload: dict[str, Any] = {"event": kind, **plain}
        if sale_id is not None:
            payload.setdefault("sale_id", sale_id)
        if staff_id is not None:
            payload.setdefault("staff_id", staff_id)
        payload.update(kiosk_id=self.kiosk_id, ts=to_utc_iso(now))
        with self.lock, self._atomic(f"cannot record event {kind}") as conn:
            conn.execute("INSERT INTO audit_log (at, kind, sale_id, staff_id, detail) VALUES (?,?,?,?,?)",
                         (to_utc_iso(now), kind, sale_id, staff_id, dump_json(plain)))
            return self.outbox.add(conn, EVENTS_TOPIC, payload, at=now) if publish else None

    # -- reading ----------------------------------------------------------------------------

    def sale(self, sale_id: str) -> Sale | None:
        found = self._load("WHERE sale_id = ?", (sale_id,))
        return found[0] if found else None

    def sale_by_receipt(self, token: str) -> Sale | None:
        found = self._load("WHERE receipt_token = ?", (token,))
        return found[0] if found else None

    def sales(self, since: datetime | None = None, limit: int = 100) -> list[Sale]:
        """Sales completed at or after ``since``, newest first."""
        if since is None:
            return self._load("ORDER BY completed_at DESC, rowid DESC LIMIT ?", (limit,))
        return self._load("WHERE completed_at >= ? ORDER BY completed_at DESC, rowid DESC LIMIT ?",
                          (to_utc_iso(since), limit))

    def sale_count(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT count(*) FROM sales").fetchone()[0])

    def audit(self, since: datetime | None = None, *, kind: str | None = None,
              sale_id: str | None = None, staff_id: str | None = None,
              limit: int = 100) -> list[AuditEntry]:
        """Audit rows for staff, newest first, filtered by any of the arguments."""
        where, params = [], []
        for column, value in (("at >=", None if since is None else to_utc_iso(since)),
                              ("kind =", kind), ("sale_id =", sale_id), ("staff_id =", staff_id)):
            if value is not None:
                where.append(f"{column} ?")
                params.append(value)
        sql = "SELECT id, at, kind, sale_id, staff_id, detail FROM audit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self.lock:
            rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [AuditEntry(id=r[0], at=from_utc_iso(r[1]), kind=r[2], sale_id=r[3], staff_id=r[4],
                           detail=json.loads(r[5])) for r in rows]

    # -- internals --------------------------------------------------------------------------

    @contextmanager
    def _atomic(self, what: str) -> Iterator[sqlite3.Connection]:
        """``transaction`` that also rolls back when COMMIT itself fails (disk full, I/O error),
        so the connection is never left inside a dead transaction; SQLite errors become StoreError."""
        try:
            with transaction(self.conn) as conn:
                yield conn
        except sqlite3.Error as exc:
            self._rollback_if_open()
            raise StoreError(f"{what}: {exc}") from exc
        except BaseException:
            self._rollback_if_open()
            raise

    def _rollback_if_open(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    @staticmethod
    def _take_stock(conn: sqlite3.Connection, lines: tuple[SaleLine, ...]) -> None:
        """Count down stock of items sold by the piece; unknown items and kg produce are skipped
        (loose produce stock is not kept in pieces)."""
        sold: dict[int, int] = defaultdict(int)
        for line in lines:
            if line.kind is not LineKind.ITEM:
                continue
            row = None
            if line.gtin is not None:
                row = conn.execute("SELECT id, unit FROM items WHERE gtin = ?", (line.gtin,)).fetchone()
            if row is None and line.plu is not None:
                row = conn.execute("SELECT id, unit FROM items WHERE plu = ?", (line.plu,)).fetchone()
            if row is not None and row[1] == "each":
                sold[row[0]] += line.qty
        conn.executemany("UPDATE items SET stock = stock - ? WHERE id = ? AND stock IS NOT NULL",
                         [(qty, item_id) for item_id, qty in sold.items()])

    def _load(self, where: str, params: tuple[Any, ...]) -> list[Sale]:
        with self.lock:
            heads = self.conn.execute(
                "SELECT sale_id, kiosk_id, store, lane, started_at, completed_at, currency, member_id,"
                f" receipt_token, attendants FROM sales {where}", params).fetchall()
            if not heads:
                return []
            ids = dump_json([h[0] for h in heads])
            line_rows = self.conn.execute(
                "SELECT sale_id, line_no, kind, gtin, plu, name_zh, name_en, qty, weight_g,"
                " unit_price_fen, amount_fen, tax_rate, age_min, code FROM sale_lines"
                " WHERE sale_id IN (SELECT value FROM json_each(?)) ORDER BY sale_id, line_no",
                (ids,)).fetchall()
            pay_rows = self.conn.execute(
                "SELECT sale_id, method, amount_fen, status, reference FROM payments"
                " WHERE sale_id IN (SELECT value FROM json_each(?)) ORDER BY sale_id, seq",
                (ids,)).fetchall()
        lines: dict[str, list[SaleLine]] = defaultdict(list)
        for r in line_rows:
            lines[r[0]].append(SaleLine(
                line_no=r[1], kind=LineKind(r[2]), gtin=r[3], plu=r[4], name_zh=r[5], name_en=r[6],
                qty=r[7], weight_g=r[8], unit_price=Money(r[9]), amount=Money(r[10]),
                tax_rate=Decimal(r[11]), age_min=r[12], code=r[13]))
        payments: dict[str, list[Payment]] = defaultdict(list)
        for r in pay_rows:
            payments[r[0]].append(Payment(method=r[1], amount=Money(r[2]), status=r[3], reference=r[4]))
        return [Sale(sale_id=h[0], kiosk_id=h[1], store=h[2], lane=h[3],
                     started_at=from_utc_iso(h[4]), completed_at=from_utc_iso(h[5]),
                     lines=tuple(lines[h[0]]), payments=tuple(payments[h[0]]), receipt_token=h[8],
                     member_id=h[7], currency=h[6],
                     attendants=tuple(h[9].split(",")) if h[9] else ())
                for h in heads]


def _plain(value: object) -> object:
    if isinstance(value, Money | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return to_utc_iso(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"event detail value {value!r} is not JSON")
