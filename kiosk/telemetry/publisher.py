"""The outbox drainer: sales and events to the fleet, in order, at least once, never dropped.

Rules (DESIGN 3.6, reference/mqtt.md 1.8):

- Rows go out in ``seq`` order at QoS 1 on ``up/{row.topic}`` with ``msg_id``, ``seq``, ``kiosk_id``,
  ``ts`` and ``is_historical`` (true for rows written before this connection came up, or older
  than ``historical_after_s``).
- A row is deleted only when its ``msg_id`` comes back on ``down/ack``. A PUBACK only means the
  broker has it; it is remembered in memory (and ``mark_sent``) so the row is not sent again on
  this connection.
- Every new connection, and every time the fleet host comes (back) online, starts again from the
  oldest unacknowledged row. If acks stop coming while rows wait, it resends them after
  ``ack_timeout_s`` (doubling up to ``ack_timeout_max_s``). The fleet de-duplicates by ``msg_id``.
- At most ``unacked_limit`` rows are out without an ack, so a slow or absent fleet cannot make the
  broker's per-client queue (1,000 by default) overflow; the rest waits on disk.
- With ``require_host`` (the default) rows are sent only while the fleet's retained
  ``fleet/v1/host/STATE`` says online (Sparkplug primary host): nobody else could acknowledge them,
  and sending into a broker with no subscriber loses them and costs a resend.
- A publish the broker refuses (ACL, MQTT 5 reason code) stops draining for ``denied_retry_s`` and
  raises ``outbox_rejected`` through ``on_rejected``; the rows stay.

All database work happens on the publisher's own thread with its own connection; the public
methods only queue events and may be called from any thread (paho's included).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiosk.outbox import Outbox, to_utc_iso
from kiosk.telemetry import payloads
from kiosk.telemetry.client import PublishOutcome
from kiosk.telemetry.payloads import HostState

log = logging.getLogger("kiosk.telemetry.publisher")

Send = Callable[[str, bytes, Callable[[PublishOutcome], None]], None]  # (suffix, body, on_done)


@dataclass(frozen=True)
class PublisherOptions:
    inflight_window: int = 100  # rows waiting for a PUBACK
    unacked_limit: int = 500  # rows sent on this connection and not yet acknowledged by the fleet
    batch: int = 100  # rows read from SQLite at a time
    ack_timeout_s: float = 30.0
    ack_timeout_max_s: float = 600.0
    historical_after_s: float = 60.0
    require_host: bool = True
    denied_retry_s: float = 300.0
    mark_sent_every_s: float = 0.25


@dataclass(frozen=True)
class PublisherStats:
    connected: bool
    host_online: bool | None
    cursor: int
    inflight: int
    awaiting_ack: int
    published: int
    acked: int
    resends: int
    denied: str | None


class OutboxPublisher:
    def __init__(self, outbox: Outbox, send: Send, *, kiosk_id: str,
                 clock: Callable[[], datetime], options: PublisherOptions = PublisherOptions(),
                 on_rejected: Callable[[str | None], None] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.outbox = outbox
        self.send = send
        self.kiosk_id = kiosk_id
        self.clock = clock
        self.options = options
        self.on_rejected = on_rejected
        self.monotonic = monotonic
        self._cond = threading.Condition()
        self._events: deque[tuple[Any, ...]] = deque()
        # drain state, touched only by the publisher thread
        self._gen = 0
        self._online = False
        self._connected_at: datetime | None = None
        self._host: HostState | None = None
        self._host_online: bool | None = None
        self._cursor = 0
        self._inflight: dict[str, int] = {}
        self._awaiting: OrderedDict[str, int] = OrderedDict()
        self._waiting_since: float | None = None
        self._ack_timeout = options.ack_timeout_s
        self._to_mark: list[str] = []
        self._last_mark = 0.0
        self._denied_until: float | None = None
        self._denied: str | None = None
        self.published = 0
        self.acked = 0
        self.resends = 0

    # -- events, from any thread --
    def _post(self, event: tuple[Any, ...]) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify()

    def connected(self, generation: int) -> None:
        self._post(("connected", generation, self.clock()))

    def disconnected(self) -> None:
        self._post(("disconnected",))

    def host_state(self, state: HostState) -> None:
        self._post(("host", state))

    def acked_ids(self, msg_ids: list[str]) -> None:
        self._post(("ack", msg_ids))

    def wake(self) -> None:
        """A new row was committed: look at the outbox now."""
        self._post(("wake",))

    def stats(self) -> PublisherStats:
        return PublisherStats(self._online, self._host_online, self._cursor, len(self._inflight),
                              len(self._awaiting), self.published, self.acked, self.resends, self._denied)

    # -- the thread --
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._cond:
                if not self._events:
                    self._cond.wait(self._idle_timeout())
                events = list(self._events)
                self._events.clear()
            try:
                self.step(events)
            except Exception:  # never let one bad step end telemetry; the rows are safe on disk
                log.exception("outbox publisher step failed kiosk_id=%s", self.kiosk_id)
                stop.wait(1.0)

    def _idle_timeout(self) -> float:
        timeouts = [1.0]
        if self._to_mark:
            timeouts.append(self.options.mark_sent_every_s)
        return max(0.01, min(timeouts))

    def step(self, events: list[tuple[Any, ...]]) -> None:
        """Handle queued events, then send what the windows allow (public for tests)."""
        now = self.monotonic()
        acked: list[str] = []
        for event in events:
            kind = event[0]
            if kind == "connected":
                self._on_connected(event[1], event[2])
            elif kind == "disconnected":
                self._online = False
                self._inflight.clear()
            elif kind == "host":
                self._on_host(event[1])
            elif kind == "ack":
                acked.extend(event[1])
            elif kind == "puback":
                self._on_puback(event[1], event[2], event[3], now)
        if acked:
            self._on_acks(acked, now)
        self._check_ack_timeout(now)
        self._fill(now)
        if self._to_mark and (now - self._last_mark >= self.options.mark_sent_every_s
                              or len(self._to_mark) >= 500):
            self.outbox.mark_sent(self._to_mark, self.clock())
            self._to_mark = []
            self._last_mark = now

    def _rewind(self, why: str) -> None:
        if self._awaiting or self._cursor:
            log.info("outbox resend from the oldest unacknowledged row kiosk_id=%s why=%s", self.kiosk_id, why)
        self._cursor = 0
        self._awaiting.clear()
        self._waiting_since = None

    def _on_connected(self, generation: int, at: datetime) -> None:
        self._gen = generation
        self._online = True
        self._connected_at = at
        self._host_online = None  # the retained STATE arrives right after the subscription
        self._inflight.clear()
        self._rewind("new connection")
        self._ack_timeout = self.options.ack_timeout_s

    def _on_host(self, state: HostState) -> None:
        if self._host is not None and not state.online and state.timestamp < self._host.timestamp:
            return  # a stale Will from an older host session (Sparkplug STATE rule)
        was = self._host_online
        self._host = state
        self._host_online = state.online
        if state.online and was is not True:
            self._rewind("fleet host online")

    def _on_puback(self, generation: int, msg_id: str, outcome: PublishOutcome, now: float) -> None:
        if generation != self._gen:
            return
        seq = self._inflight.pop(msg_id, None)
        if seq is None:
            return
        if outcome.ok:
            if not self._awaiting:
                self._waiting_since = now
            self._awaiting[msg_id] = seq
            self._to_mark.append(msg_id)
            self.published += 1
            if self._denied is not None:
                self._clear_denied()  # the broker accepts again (ACL fixed)
        elif outcome.status == "denied":
            if self._denied is None:
                log.error("outbox publish refused by the broker kiosk_id=%s reason=%s; rows kept, retry in %gs",
                          self.kiosk_id, outcome.reason, self.options.denied_retry_s)
                if self.on_rejected:
                    self.on_rejected(outcome.reason)
            self._denied = outcome.reason
            self._denied_until = now + self.options.denied_retry_s
            self._rewind("publish denied")
        elif outcome.status == "error":
            log.error("outbox publish failed kiosk_id=%s msg_id=%s: %s", self.kiosk_id, msg_id, outcome.reason)
        # lost: the connection went; the next connection starts from the oldest row anyway

    def _on_acks(self, ids: list[str], now: float) -> None:
        removed = self.outbox.ack(ids)
        self.acked += removed
        for msg_id in ids:
            self._awaiting.pop(msg_id, None)
        if removed:
            self._waiting_since = now if self._awaiting else None
            self._ack_timeout = self.options.ack_timeout_s
            if self._denied is not None:
                self._clear_denied()

    def _clear_denied(self) -> None:
        self._denied = None
        self._denied_until = None
        if self.on_rejected:
            self.on_rejected(None)

    def _check_ack_timeout(self, now: float) -> None:
        if self._waiting_since is not None and now - self._waiting_since > self._ack_timeout:
            self.resends += 1
            self._rewind(f"no ack for {self._ack_timeout:g}s")
            self._ack_timeout = min(self._ack_timeout * 2, self.options.ack_timeout_max_s)

    def _may_send(self, now: float) -> bool:
        if not self._online:
            return False
        if self.options.require_host and self._host_online is not True:
            return False
        if self._denied_until is not None:
            if now < self._denied_until:
                return False
            self._denied_until = None  # try again; a success clears the alert
        return True

    def _puback_for(self, generation: int, msg_id: str) -> Callable[[PublishOutcome], None]:
        def done(outcome: PublishOutcome) -> None:
            self._post(("puback", generation, msg_id, outcome))
        return done

    def _fill(self, now: float) -> None:
        while self._may_send(now):
            room = min(self.options.inflight_window - len(self._inflight),
                       self.options.unacked_limit - len(self._inflight) - len(self._awaiting))
            if room <= 0:
                return
            rows = self.outbox.pending(limit=min(room, self.options.batch), after_seq=self._cursor)
            if not rows:
                return
            wall = self.clock()
            for row in rows:
                self._cursor = row.seq
                if row.msg_id in self._inflight or row.msg_id in self._awaiting:
                    continue
                historical = bool(
                    (self._connected_at is not None and row.created_at < self._connected_at)
                    or (wall - row.created_at).total_seconds() > self.options.historical_after_s)
                body = payloads.outbox_message(row.payload, msg_id=row.msg_id, seq=row.seq,
                                               kiosk_id=self.kiosk_id, created_at=to_utc_iso(row.created_at),
                                               is_historical=historical)
                self._inflight[row.msg_id] = row.seq
                self.send(row.topic, body, self._puback_for(self._gen, row.msg_id))
            if len(rows) < min(room, self.options.batch):
                return
