"""The outbox drainer's rules, step by step, with a fake transport and a real SQLite outbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kiosk.db import connect, transaction
from kiosk.outbox import Outbox
from kiosk.telemetry.client import PublishOutcome
from kiosk.telemetry.payloads import HostState
from kiosk.telemetry.publisher import OutboxPublisher, PublisherOptions

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACKED = PublishOutcome("acked", "Success", True)


class World:
    def __init__(self, db: Path, **options: Any) -> None:
        self.conn = connect(db)
        self.now = T0
        self.mono = 100.0
        self.outbox = Outbox(self.conn, clock=lambda: self.now)
        self.sent: list[tuple[str, dict[str, Any], Callable[[PublishOutcome], None]]] = []
        self.rejections: list[str | None] = []
        self.pub = OutboxPublisher(self.outbox, self._send, kiosk_id="k1", clock=lambda: self.now,
                                   options=PublisherOptions(**options), on_rejected=self.rejections.append,
                                   monotonic=lambda: self.mono)

    def _send(self, suffix: str, body: bytes, done: Callable[[PublishOutcome], None]) -> None:
        self.sent.append((suffix, json.loads(body), done))

    def add(self, n: int, topic: str = "sales") -> list[str]:
        ids = []
        for _ in range(n):
            with transaction(self.conn):
                ids.append(self.outbox.add(self.conn, topic, {"event": "sale.completed"}))
        return ids

    def step(self) -> None:
        events = list(self.pub._events)
        self.pub._events.clear()
        self.pub.step(events)

    def online(self, generation: int = 1, host: bool = True) -> None:
        self.pub.connected(generation)
        if host:
            self.pub.host_state(HostState(True, 1))
        self.step()

    def puback_all(self, outcome: PublishOutcome = ACKED) -> None:
        for _, _, done in self.sent:
            done(outcome)
        self.step()

    def seqs(self) -> list[int]:
        return [body["seq"] for _, body, _ in self.sent]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    made: list[World] = []

    def make(**options: Any) -> World:
        w = World(tmp_path / f"k{len(made)}.db", **options)
        made.append(w)
        return w

    yield make
    for w in made:
        w.conn.close()


def test_sends_in_order_with_delivery_fields_and_deletes_only_on_ack(world: Callable[..., World]) -> None:
    w = world()
    ids = w.add(3)
    w.now += timedelta(seconds=1)
    w.online()
    assert w.seqs() == [1, 2, 3]
    suffix, body, _ = w.sent[0]
    assert suffix == "sales" and body["msg_id"] == ids[0] and body["kiosk_id"] == "k1"
    assert body["is_historical"] is True  # written before this connection came up
    w.puback_all()
    assert w.outbox.depth() == 3  # a PUBACK deletes nothing
    assert w.outbox.pending()[0].attempts == 1  # mark_sent recorded it
    w.pub.acked_ids(ids[:2])
    w.step()
    assert [r.msg_id for r in w.outbox.pending()] == [ids[2]]


def test_new_rows_on_a_live_connection_are_not_historical(world: Callable[..., World]) -> None:
    w = world(historical_after_s=60)
    w.online()
    w.now += timedelta(seconds=1)
    w.add(1)
    w.pub.wake()
    w.step()
    assert w.sent[0][1]["is_historical"] is False
    w.pub.host_state(HostState(False, 2))  # the fleet goes away; a row waits two minutes
    w.add(1)
    w.step()
    w.now += timedelta(seconds=120)
    w.pub.host_state(HostState(True, 3))
    w.step()
    assert w.sent[-1][1]["seq"] == 2 and w.sent[-1][1]["is_historical"] is True


def test_nothing_is_sent_until_the_fleet_host_is_online(world: Callable[..., World]) -> None:
    w = world()
    w.add(2)
    w.online(host=False)
    assert w.sent == []
    w.pub.host_state(HostState(False, 5))
    w.step()
    assert w.sent == []
    w.pub.host_state(HostState(True, 6))
    w.step()
    assert w.seqs() == [1, 2]
    w.puback_all()
    w.pub.host_state(HostState(False, 3))  # a stale Will from an older host session: ignored
    w.step()
    assert w.pub.stats().host_online is True


def test_host_coming_back_resends_everything_unacknowledged(world: Callable[..., World]) -> None:
    w = world()
    w.add(3)
    w.online()
    w.puback_all()
    w.pub.host_state(HostState(False, 1))
    w.step()
    w.pub.host_state(HostState(True, 2))
    w.step()
    assert w.seqs() == [1, 2, 3, 1, 2, 3]


def test_without_host_gate_rows_flow_at_once(world: Callable[..., World]) -> None:
    w = world(require_host=False)
    w.add(1)
    w.online(host=False)
    assert w.seqs() == [1]


def test_reconnect_starts_again_from_the_oldest_unacknowledged_row(world: Callable[..., World]) -> None:
    w = world()
    ids = w.add(4)
    w.online()
    w.puback_all()
    w.pub.acked_ids([ids[0]])
    w.pub.disconnected()
    w.step()
    w.sent.clear()
    w.online(generation=2)
    assert w.seqs() == [2, 3, 4]


def test_late_pubacks_from_an_old_connection_are_ignored(world: Callable[..., World]) -> None:
    w = world()
    w.add(1)
    w.online()
    old_done = w.sent[0][2]
    w.pub.disconnected()
    w.online(generation=2)
    old_done(ACKED)
    w.step()
    assert w.pub.stats().inflight == 1 and w.pub.stats().awaiting_ack == 0


def test_windows_bound_what_is_out(world: Callable[..., World]) -> None:
    w = world(inflight_window=3, unacked_limit=5, batch=2)
    ids = w.add(10)
    w.online()
    assert w.seqs() == [1, 2, 3]  # three waiting for PUBACK
    w.puback_all()
    assert w.seqs() == [1, 2, 3, 4, 5]  # then at most five without a fleet ack
    for _, _, done in w.sent[3:]:
        done(ACKED)
    w.step()
    assert len(w.sent) == 5
    w.pub.acked_ids(ids[:5])
    w.step()
    assert w.seqs()[5:] == [6, 7, 8]


def test_missing_acks_trigger_a_resend_with_backoff(world: Callable[..., World]) -> None:
    w = world(ack_timeout_s=10, ack_timeout_max_s=25)
    w.add(2)
    w.online()
    w.puback_all()
    w.mono += 9
    w.step()
    assert len(w.sent) == 2
    w.mono += 2
    w.step()
    assert w.seqs() == [1, 2, 1, 2] and w.pub.stats().resends == 1
    for _, _, done in w.sent[2:]:
        done(ACKED)
    w.step()
    w.mono += 15  # the timeout doubled to 20 s
    w.step()
    assert len(w.sent) == 4
    w.mono += 6
    w.step()
    assert len(w.sent) == 6


def test_a_denied_publish_pauses_raises_and_keeps_rows(world: Callable[..., World]) -> None:
    w = world(denied_retry_s=60)
    w.add(2)
    w.online()
    w.puback_all(PublishOutcome("denied", "Not authorized", True))
    assert w.rejections == ["Not authorized"] and w.pub.stats().denied == "Not authorized"
    assert w.outbox.depth() == 2
    sent = len(w.sent)
    w.pub.wake()
    w.step()
    assert len(w.sent) == sent  # paused
    w.mono += 61
    w.step()
    assert w.seqs()[sent:] == [1, 2]  # retried
    for _, _, done in w.sent[sent:]:
        done(ACKED)
    w.step()
    assert w.rejections == ["Not authorized", None] and w.pub.stats().denied is None


def test_lost_publishes_wait_for_the_next_connection(world: Callable[..., World]) -> None:
    w = world()
    w.add(1)
    w.online()
    w.puback_all(PublishOutcome("lost", "not connected"))
    assert w.outbox.depth() == 1 and w.pub.stats().awaiting_ack == 0
