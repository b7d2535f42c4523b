"""SaleStore: durable sales, audit rows and their outbox messages, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kiosk import db
from kiosk.catalog import Item, Unit
from kiosk.errors import StoreError
from kiosk.money import Money
from kiosk.outbox import Outbox
from kiosk.sale import Cart, LineKind, Payment, Sale
from kiosk.store import SaleStore

KIOSK = "kiosk-007"
T0 = datetime(2026, 3, 1, 2, 30, 15, 250000, tzinfo=UTC)

COLA = Item("06901234567892", None, "可口可乐 330ml", "Coca-Cola 330ml", Money(350), Unit.EACH,
            weight_g=345, stock=40)
BANANA = Item(None, "4011", "香蕉", "Bananas", Money(598), Unit.KG, stock=100)
WINE = Item("06900000000019", "9001", "长城干红", "Great Wall red", Money(8800), Unit.EACH,
            age_min=18, tax_rate=Decimal("0.13"), stock=None)
RICE = Item("06911111111113", None, "东北大米 5kg", "Rice 5kg", Money(4990), Unit.EACH,
            tax_rate=Decimal("0.09"), stock=3)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def seed_items(conn: sqlite3.Connection, *items: Item) -> None:
    conn.executemany(
        "INSERT INTO items (gtin, plu, name_zh, name_en, price_fen, unit, weight_g, age_min, tax_rate, stock)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(i.gtin, i.plu, i.name_zh, i.name_en, i.price.fen, str(i.unit), i.weight_g, i.age_min,
          str(i.tax_rate), i.stock) for i in items])


def realistic_sale(sale_id: str = "S-20260301-0001", completed_at: datetime = T0) -> Sale:
    cart = Cart()
    cart, _ = cart.add_item(COLA, 3)
    cart, _ = cart.add_weighed(BANANA, 1234)
    cart, _ = cart.add_item(WINE)
    cart, _ = cart.add_item(RICE)
    cart, _ = cart.add_priced(BANANA, Money(712), 1190, "2040110007124")
    cart, _ = cart.add_discount("C-FULL100-10", "满100减10", "10 off 100", Money(1000), Decimal("0.13"))
    total = cart.total
    return Sale(
        sale_id=sale_id, kiosk_id=KIOSK, store="演示店 Demo", lane=3,
        started_at=completed_at - timedelta(minutes=4, microseconds=17), completed_at=completed_at,
        lines=cart.lines,
        payments=(Payment("wechat", total, "declined", "wx-decl-1"), Payment("alipay", total, "paid", "2026030122001")),
        receipt_token=f"R-{sale_id}", member_id="M13800138000", attendants=("S0001", "S0002"))


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = db.connect(tmp_path / "kiosk.db")
    seed_items(c, COLA, BANANA, WINE, RICE)
    yield c
    c.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(conn: sqlite3.Connection, clock: Clock) -> SaleStore:
    return SaleStore(conn, kiosk_id=KIOSK, clock=clock)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sales", "sale_lines", "payments", "audit_log", "outbox")}


def stock(conn: sqlite3.Connection, gtin: str | None = None, plu: str | None = None) -> int | None:
    col, key = ("gtin", gtin) if gtin else ("plu", plu)
    return conn.execute(f"SELECT stock FROM items WHERE {col} = ?", (key,)).fetchone()[0]


def test_realistic_sale_round_trips_exactly(store: SaleStore) -> None:
    sale = realistic_sale()
    assert {line.kind for line in sale.lines} == {LineKind.ITEM, LineKind.DISCOUNT}
    assert any(line.weight_g for line in sale.lines)
    assert store.commit_sale(sale, kiosk_id=KIOSK) is True
    loaded = store.sale(sale.sale_id)
    assert loaded == sale
    assert loaded is not None and loaded.total == sale.total and loaded.tax == sale.tax
    assert store.sale_by_receipt(sale.receipt_token) == sale
    assert loaded.to_event() == sale.to_event()


def test_unknown_sale_and_receipt_give_none(store: SaleStore) -> None:
    assert store.sale("nope") is None
    assert store.sale_by_receipt("nope") is None
    assert store.sales() == []
    assert store.sale_count() == 0


def test_sale_without_member_attendants_or_payment_reference_round_trips(store: SaleStore) -> None:
    sale = replace(realistic_sale(), member_id=None, attendants=(),
                   payments=(Payment("sim", realistic_sale().total, "paid"),))
    store.commit_sale(sale)
    assert store.sale(sale.sale_id) == sale


def test_naive_times_are_taken_as_utc(store: SaleStore) -> None:
    naive = realistic_sale().completed_at.replace(tzinfo=None)
    sale = replace(realistic_sale(), started_at=naive, completed_at=naive)
    store.commit_sale(sale)
    loaded = store.sale(sale.sale_id)
    assert loaded is not None and loaded.completed_at == naive.replace(tzinfo=UTC)


def test_commit_is_idempotent(store: SaleStore, conn: sqlite3.Connection, clock: Clock) -> None:
    sale = realistic_sale()
    assert store.commit_sale(sale) is True
    before, cola = counts(conn), stock(conn, gtin=COLA.gtin)
    clock.advance(60)
    assert store.commit_sale(sale) is False
    changed = replace(sale, member_id="M-other")  # same id, whatever else: still nothing written
    assert store.commit_sale(changed) is False
    assert counts(conn) == before
    assert stock(conn, gtin=COLA.gtin) == cola
    assert store.sale(sale.sale_id) == sale


def test_commit_writes_rows_audit_and_outbox(store: SaleStore, conn: sqlite3.Connection) -> None:
    sale = realistic_sale()
    store.commit_sale(sale)
    assert counts(conn) == {"sales": 1, "sale_lines": len(sale.lines), "payments": 2,
                            "audit_log": 1, "outbox": 1}
    (row,) = store.outbox.pending()
    assert row.topic == "sales"
    assert row.created_at == T0
    assert row.payload == {**sale.to_event(), "msg_id": row.msg_id, "kiosk_id": KIOSK,
                           "ts": "2026-03-01T02:30:15.250000+00:00"}
    assert row.payload["event"] == "sale.completed" and len(row.msg_id) == 32
    assert row.message()["seq"] == row.seq
    (entry,) = store.audit()
    assert (entry.kind, entry.sale_id, entry.at) == ("sale.completed", sale.sale_id, T0)
    assert entry.detail["total"] == str(sale.total)


def test_stock_is_counted_down_for_items_sold_by_the_piece(store: SaleStore, conn: sqlite3.Connection) -> None:
    ghost = replace(COLA, gtin="06999999999999", plu=None)  # not in the catalog
    cart, _ = Cart().add_item(COLA, 3)
    cart, _ = cart.add_item(RICE)
    cart, _ = cart.add_item(ghost, 2)
    cart, _ = cart.add_weighed(BANANA, 800)
    cart, _ = cart.add_item(WINE)
    sale = replace(realistic_sale(), lines=cart.lines,
                   payments=(Payment("alipay", cart.total, "paid"),))
    assert store.commit_sale(sale)
    assert stock(conn, gtin=COLA.gtin) == 37
    assert stock(conn, gtin=RICE.gtin) == 2
    assert stock(conn, plu="4011") == 100  # loose produce: stock is not kept in pieces
    assert stock(conn, gtin=WINE.gtin) is None  # untracked stays untracked
    store.commit_sale(sale)
    assert stock(conn, gtin=COLA.gtin) == 37  # a repeated commit takes nothing twice


def test_stock_found_by_plu_when_line_has_no_gtin(store: SaleStore, conn: sqlite3.Connection) -> None:
    bunch = Item(None, "4022", "玉米", "Sweetcorn", Money(300), Unit.EACH, stock=5)
    seed_items(conn, bunch)
    cart, _ = Cart().add_item(bunch, 2)
    sale = replace(realistic_sale(), lines=cart.lines, payments=(Payment("sim", cart.total, "paid"),))
    store.commit_sale(sale)
    assert stock(conn, plu="4022") == 3


def test_stock_may_go_negative_the_sale_happened(store: SaleStore, conn: sqlite3.Connection) -> None:
    cart, _ = Cart().add_item(RICE, 5)
    sale = replace(realistic_sale(), lines=cart.lines, payments=(Payment("sim", cart.total, "paid"),))
    assert store.commit_sale(sale)
    assert stock(conn, gtin=RICE.gtin) == -2


def test_failure_inside_the_transaction_writes_nothing(store: SaleStore, conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TRIGGER outbox_full BEFORE INSERT ON outbox "
                 "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
    before, cola = counts(conn), stock(conn, gtin=COLA.gtin)
    with pytest.raises(StoreError, match="cannot store sale S-20260301-0001: disk full"):
        store.commit_sale(realistic_sale())
    assert counts(conn) == before
    assert stock(conn, gtin=COLA.gtin) == cola
    assert not conn.in_transaction
    conn.execute("DROP TRIGGER outbox_full")
    assert store.commit_sale(realistic_sale()) is True  # the retry goes through, once
    assert counts(conn)["outbox"] == 1


def test_python_error_mid_transaction_writes_nothing(store: SaleStore, conn: sqlite3.Connection,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("power cut")

    monkeypatch.setattr(store.outbox, "add", boom)
    with pytest.raises(RuntimeError):
        store.commit_sale(realistic_sale())
    assert counts(conn) == dict.fromkeys(("sales", "sale_lines", "payments", "audit_log", "outbox"), 0)
    assert stock(conn, gtin=COLA.gtin) == 40


def test_failed_commit_statement_leaves_connection_usable(store: SaleStore, conn: sqlite3.Connection) -> None:
    # A deferred foreign key fails at COMMIT itself, like a full disk would.
    conn.execute("CREATE TABLE dangling (ref TEXT REFERENCES sales (sale_id) DEFERRABLE INITIALLY DEFERRED)")
    conn.execute("CREATE TRIGGER bad AFTER INSERT ON outbox BEGIN INSERT INTO dangling VALUES ('none'); END")
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        store.commit_sale(realistic_sale())
    assert not conn.in_transaction
    assert counts(conn)["sales"] == 0
    conn.execute("DROP TRIGGER bad")
    assert store.commit_sale(realistic_sale()) is True


def test_sale_for_another_kiosk_is_refused(store: SaleStore, conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="belongs to kiosk"):
        store.commit_sale(replace(realistic_sale(), kiosk_id="kiosk-999"))
    with pytest.raises(ValueError, match="belongs to kiosk"):
        store.commit_sale(realistic_sale(), kiosk_id="kiosk-999")
    assert counts(conn)["sales"] == 0


def test_sales_newest_first_with_since_and_limit(store: SaleStore) -> None:
    for n in range(5):
        store.commit_sale(realistic_sale(f"S-{n}", completed_at=T0 + timedelta(minutes=n)))
    assert [s.sale_id for s in store.sales()] == ["S-4", "S-3", "S-2", "S-1", "S-0"]
    assert [s.sale_id for s in store.sales(limit=2)] == ["S-4", "S-3"]
    assert [s.sale_id for s in store.sales(since=T0 + timedelta(minutes=3))] == ["S-4", "S-3"]
    shanghai = T0.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert len(store.sales(since=shanghai + timedelta(minutes=1))) == 4  # any zone, same instant
    assert store.sale_count() == 5
    assert store.sales()[0] == realistic_sale("S-4", completed_at=T0 + timedelta(minutes=4))


def test_record_event_writes_audit_and_events_message(store: SaleStore, clock: Clock) -> None:
    clock.advance(5)
    msg_id = store.record_event("intervention.cleared", {"reason": "age_check", "by": "S0001"},
                                sale_id="S-1", staff_id="S0001")
    (row,) = store.outbox.pending()
    assert row.msg_id == msg_id and row.topic == "events"
    assert row.payload == {"event": "intervention.cleared", "reason": "age_check", "by": "S0001",
                           "sale_id": "S-1", "staff_id": "S0001", "msg_id": msg_id,
                           "kiosk_id": KIOSK, "ts": "2026-03-01T02:30:20.250000+00:00"}
    (entry,) = store.audit()
    assert entry.kind == "intervention.cleared" and entry.staff_id == "S0001"
    assert entry.detail == {"reason": "age_check", "by": "S0001"}


def test_record_event_without_publish_is_audit_only(store: SaleStore) -> None:
    assert store.record_event("staff.login", {"role": "attendant"}, staff_id="S0001", publish=False) is None
    assert store.outbox.depth() == 0
    assert len(store.audit()) == 1


def test_record_event_converts_money_and_times(store: SaleStore) -> None:
    store.record_event("cart.abandoned", {"value": Money(1234), "rate": Decimal("0.13"), "at": T0,
                                          "kind": LineKind.ITEM})
    (row,) = store.outbox.pending()
    assert row.payload["value"] == "12.34" and row.payload["rate"] == "0.13"
    assert row.payload["at"] == "2026-03-01T02:30:15.250000+00:00" and row.payload["kind"] == "item"


@pytest.mark.parametrize("detail, error", [
    ({"msg_id": "forged"}, ValueError),
    ({"event": "other"}, ValueError),
    ({"blob": object()}, ValueError),
    ({"nan": float("nan")}, ValueError),
])
def test_bad_event_detail_changes_nothing(store: SaleStore, conn: sqlite3.Connection,
                                          detail: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        store.record_event("feedback", detail)
    assert counts(conn)["audit_log"] == 0 and counts(conn)["outbox"] == 0


def test_audit_listing_filters_newest_first(store: SaleStore, clock: Clock) -> None:
    store.commit_sale(realistic_sale("S-1"))
    clock.advance(10)
    store.record_event("void.approved", {"line": 2}, sale_id="S-2", staff_id="S0002")
    clock.advance(10)
    store.record_event("feedback", {"score": 5}, sale_id="S-1")
    assert [e.kind for e in store.audit()] == ["feedback", "void.approved", "sale.completed"]
    assert [e.kind for e in store.audit(sale_id="S-1")] == ["feedback", "sale.completed"]
    assert [e.kind for e in store.audit(staff_id="S0002")] == ["void.approved"]
    assert [e.kind for e in store.audit(kind="feedback")] == ["feedback"]
    assert [e.kind for e in store.audit(since=T0 + timedelta(seconds=5))] == ["feedback", "void.approved"]
    assert len(store.audit(limit=1)) == 1


def test_store_survives_reopen(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "k.db"
    first = db.connect(path)
    SaleStore(first, kiosk_id=KIOSK, clock=clock).commit_sale(realistic_sale())
    first.close()
    again = db.connect(path)
    store = SaleStore(again, kiosk_id=KIOSK, clock=clock)
    assert store.sale(realistic_sale().sale_id) == realistic_sale()
    assert store.commit_sale(realistic_sale()) is False
    assert Outbox(again).depth() == 1
    again.close()
