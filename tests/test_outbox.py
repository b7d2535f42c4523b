"""Outbox: pending order, send attempts, acks, backlog age, restart and two threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiosk import db
from kiosk.catalog import Item, Unit
from kiosk.money import Money
from kiosk.outbox import Outbox
from kiosk.sale import Cart, Payment, Sale
from kiosk.store import SaleStore

T0 = datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kiosk.db"


@pytest.fixture
def conn(path: Path) -> Iterator[sqlite3.Connection]:
    c = db.connect(path)
    yield c
    c.close()


@pytest.fixture
def outbox(conn: sqlite3.Connection, clock: Clock) -> Outbox:
    return Outbox(conn, clock=clock)


def put(outbox: Outbox, n: int, topic: str = "events") -> list[str]:
    with db.transaction(outbox.conn) as txn:
        return [outbox.add(txn, topic, {"event": "test", "n": i}) for i in range(n)]


def test_add_needs_an_open_transaction_and_a_sane_topic(outbox: Outbox) -> None:
    with pytest.raises(ValueError, match="inside the transaction"):
        outbox.add(outbox.conn, "events", {"event": "x"})
    with db.transaction(outbox.conn) as txn:
        for bad in ("", "up/#", "+", "/events", "Events", "events/"):
            with pytest.raises(ValueError, match="topic"):
                outbox.add(txn, bad, {"event": "x"})
    assert outbox.depth() == 0


def test_add_keeps_a_given_msg_id_and_makes_one_otherwise(outbox: Outbox, clock: Clock) -> None:
    with db.transaction(outbox.conn) as txn:
        given = outbox.add(txn, "events", {"event": "x", "msg_id": "abc"})
        made = outbox.add(txn, "sales", {"event": "y", "名字": "香蕉"})
    assert given == "abc" and len(made) == 32 and made != given
    first, second = outbox.pending()
    assert (first.msg_id, first.payload) == ("abc", {"event": "x", "msg_id": "abc"})
    assert second.payload == {"event": "y", "名字": "香蕉", "msg_id": made}
    assert first.created_at == T0 and first.attempts == 0 and first.sent_at is None
    assert first.seq < second.seq


def test_pending_in_seq_order_with_cursor_and_limit(outbox: Outbox) -> None:
    ids = put(outbox, 10)
    rows = outbox.pending()
    assert [r.msg_id for r in rows] == ids
    assert [r.payload["n"] for r in outbox.pending(limit=3)] == [0, 1, 2]
    cursor = rows[4].seq
    assert [r.payload["n"] for r in outbox.pending(limit=3, after_seq=cursor)] == [5, 6, 7]
    assert outbox.pending(after_seq=rows[-1].seq) == []


def test_mark_sent_counts_attempts_and_rows_stay_pending(outbox: Outbox, clock: Clock) -> None:
    ids = put(outbox, 3)
    later = T0 + timedelta(seconds=7)
    assert outbox.mark_sent(ids[:2], later) == 2
    assert outbox.mark_sent([ids[0], "unknown"], later + timedelta(seconds=1)) == 1
    rows = {r.msg_id: r for r in outbox.pending()}
    assert rows[ids[0]].attempts == 2 and rows[ids[0]].sent_at == later + timedelta(seconds=1)
    assert rows[ids[1]].attempts == 1 and rows[ids[1]].was_sent
    assert rows[ids[2]].attempts == 0 and not rows[ids[2]].was_sent
    clock.now = T0 + timedelta(seconds=30)
    outbox.mark_sent([ids[2]])
    assert outbox.pending()[2].sent_at == clock.now


def test_ack_deletes_known_ids_only(outbox: Outbox) -> None:
    ids = put(outbox, 5)
    assert outbox.ack([ids[1], ids[3], "never-sent", ids[1]]) == 2
    assert [r.msg_id for r in outbox.pending()] == [ids[0], ids[2], ids[4]]
    assert outbox.ack([]) == 0
    assert outbox.ack(ids) == 3
    assert outbox.depth() == 0


def test_ack_refuses_a_bare_string_or_non_text(outbox: Outbox) -> None:
    ids = put(outbox, 2)
    with pytest.raises(TypeError, match="not a single string"):
        outbox.ack(ids[0])
    with pytest.raises(TypeError, match="must be text"):
        outbox.ack([ids[0], 7])  # type: ignore[list-item]
    assert outbox.depth() == 2  # nothing changed


def test_acking_a_thousand_ids_is_one_statement(outbox: Outbox) -> None:
    ids = put(outbox, 1500)
    statements: list[str] = []
    outbox.conn.set_trace_callback(statements.append)
    try:
        assert outbox.ack(ids[:1000] + ["x"] * 5) == 1000
    finally:
        outbox.conn.set_trace_callback(None)
    assert len(statements) == 1 and statements[0].startswith("DELETE")
    assert outbox.depth() == 500
    assert outbox.pending(limit=1)[0].msg_id == ids[1000]


def test_depth_and_oldest_age(outbox: Outbox, clock: Clock) -> None:
    assert outbox.depth() == 0
    assert outbox.oldest_age_s(T0) is None
    put(outbox, 2)
    clock.now = T0 + timedelta(seconds=90)
    ids = put(outbox, 1)
    assert outbox.depth() == 3
    assert outbox.oldest_age_s(T0 + timedelta(seconds=120.5)) == 120.5
    assert outbox.oldest_age_s() == 90.0  # from the clock
    outbox.ack([r.msg_id for r in outbox.pending(limit=2)])
    assert outbox.oldest_age_s(T0 + timedelta(seconds=120)) == 30.0
    assert outbox.oldest_age_s(T0) == 0.0  # a clock set back never gives a negative age
    outbox.ack(ids)
    assert outbox.oldest_age_s(T0) is None


def test_message_adds_seq_and_historical_flag(outbox: Outbox) -> None:
    put(outbox, 1)
    (row,) = outbox.pending()
    assert row.message() == {**row.payload, "seq": row.seq, "is_historical": False}
    assert row.message(is_historical=True)["is_historical"] is True


def test_everything_not_acked_is_pending_again_after_restart(path: Path, clock: Clock) -> None:
    first = db.connect(path)
    box = Outbox(first, clock=clock)
    ids = put(box, 6)
    box.mark_sent(ids[:4], T0)  # on the wire when the process died
    box.ack(ids[:2])  # the fleet confirmed these
    first.close()  # the process stops; the publisher's in-memory cursor is gone

    again = db.connect(path)
    fresh = Outbox(again, clock=clock)
    rows = fresh.unsent_after_restart()
    assert [r.msg_id for r in rows] == ids[2:]
    assert [r.was_sent for r in rows] == [True, True, False, False]
    assert rows == fresh.pending(after_seq=0)
    # seq keeps growing after acks and restarts: the fleet can spot gaps
    with db.transaction(again) as txn:
        fresh.add(txn, "events", {"event": "after"})
    assert fresh.pending()[-1].seq == rows[-1].seq + 1
    fresh.ack(ids)
    with db.transaction(again) as txn:
        fresh.add(txn, "events", {"event": "later"})
    assert fresh.pending()[-1].seq == rows[-1].seq + 2
    again.close()


def _sale(n: int) -> Sale:
    cart, _ = Cart().add_item(Item("06901234567892", None, "可乐", "Cola", Money(350), Unit.EACH), 2)
    return Sale(sale_id=f"S-{n:05d}", kiosk_id="k1", store="s", lane=1, started_at=T0, completed_at=T0,
                lines=cart.lines, payments=(Payment("sim", cart.total, "paid"),), receipt_token=f"R{n}")


def _drain_while_selling(core_store: SaleStore, telemetry: Outbox, sales: int) -> tuple[int, list[BaseException]]:
    errors: list[BaseException] = []
    acked = 0
    done = threading.Event()

    def core() -> None:
        try:
            for n in range(sales):
                assert core_store.commit_sale(_sale(n))
                if n % 3 == 0:
                    core_store.record_event("feedback", {"score": n % 5})
        except BaseException as exc:  # noqa: B036 - reported to the main thread
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=core)
    thread.start()
    try:
        cursor = 0
        while True:
            finished = done.is_set()
            rows = telemetry.pending(limit=50, after_seq=cursor)
            if rows:
                telemetry.mark_sent([r.msg_id for r in rows])
                acked += telemetry.ack([r.msg_id for r in rows])
                cursor = rows[-1].seq
            elif finished:
                break
    except BaseException as exc:  # noqa: B036
        errors.append(exc)
    thread.join(timeout=60)
    return acked, errors


def test_two_threads_with_a_connection_each(path: Path) -> None:
    core_conn = db.connect(path)
    telemetry_conn = db.connect(path)
    store = SaleStore(core_conn, kiosk_id="k1")
    acked, errors = _drain_while_selling(store, Outbox(telemetry_conn), 200)
    assert errors == []
    assert acked == 200 + 67
    assert store.sale_count() == 200 and store.outbox.depth() == 0
    assert Outbox(telemetry_conn).depth() == 0
    core_conn.close()
    telemetry_conn.close()


def test_two_threads_sharing_one_connection(path: Path) -> None:
    conn = db.connect(path)
    store = SaleStore(conn, kiosk_id="k1")
    acked, errors = _drain_while_selling(store, store.outbox, 200)
    assert errors == []
    assert acked == 200 + 67
    assert store.sale_count() == 200 and store.outbox.depth() == 0
    assert _sale(7) == store.sale("S-00007")
    conn.close()
