"""Fleet telemetry for one kiosk: the one object the kiosk core starts and stops.

Usage (the whole API)::

    telemetry = Telemetry(config, db_path, control, devices)   # nothing connects yet
    telemetry.start()                       # background threads; returns at once, even offline
    ...
    store.commit_sale(sale, kiosk_id=...)   # sale + outbox row in one transaction (kiosk.store)
    telemetry.notify_outbox()               # wake the publisher now (else it looks within 1 s)
    telemetry.set_alert("paper_low", {"severity": "warning", "message": "paper near end"})
    telemetry.set_alert("paper_low", None)  # resolved: clears the retained alert
    ...
    left = telemetry.stop(drain_timeout_s=10)   # wait (bounded) for the fleet to ack the outbox,
                                                # publish retained ``offline``, disconnect;
                                                # returns how many rows are still unacknowledged

- ``config``: the kiosk ``Config``; ``config.mqtt`` gives the broker URL (``mqtt://``/``mqtts://``,
  ``?protocol=3.1.1`` to force the old protocol), credentials and TLS files; ``config.kiosk.id`` is
  the client id, the default username and the id in every topic. ``mqtt.enabled`` is the caller's
  business (``kiosk run`` starts Telemetry only when it is true; ``kiosk simulate --mqtt`` always).
- ``db_path``: the kiosk SQLite database holding the ``outbox`` table. Telemetry opens its own
  connections; bdSeq and the applied config version live in ``{db_path}.telemetry.json``.
- ``control``: a ``KioskControl`` (``kiosk.telemetry.commands``) for remote commands and config.
- ``devices``: returns each device's state for the health message, e.g.
  ``{"printer": {"state": "warning", "reason": "paper_near_end"}, "camera": {"fps": 29.8}}``.
- ``clock``: returns an aware UTC ``datetime`` (timestamps, ``is_historical``); intervals use
  ``time.monotonic``.

``control`` and ``devices`` are called on telemetry threads, never on the core thread. A bad
config (URL, unreadable CA/cert/key, kiosk id unusable in topics) raises ``ConfigError`` from the
constructor. Everything after that (broker down, wrong password, wrong CA) is retried with backoff
and described in ``status()["last_error"]``; ``wait_online(timeout)`` helps demos and tests.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kiosk import __version__
from kiosk.clock import utc_now
from kiosk.config import Config, to_dict
from kiosk.db import connect
from kiosk.errors import ConfigError
from kiosk.outbox import Outbox, to_utc_iso
from kiosk.telemetry import payloads
from kiosk.telemetry.alerts import KNOWN_ALERTS, AlertBoard
from kiosk.telemetry.client import (
    MQTT5,
    ClientSettings,
    Connected,
    Inbound,
    MqttClient,
    PublishOutcome,
)
from kiosk.telemetry.commands import CommandHandler, ConfigSync, KioskControl
from kiosk.telemetry.health import HealthSampler, boot_time, disk, last_sale_at
from kiosk.telemetry.payloads import PayloadError
from kiosk.telemetry.presence import Presence, PresenceStore, state_path_for
from kiosk.telemetry.publisher import OutboxPublisher, PublisherOptions
from kiosk.telemetry.topics import HOST_STATE, KioskTopics, check_id

log = logging.getLogger("kiosk.telemetry")


@dataclass(frozen=True)
class TelemetryOptions:
    publisher: PublisherOptions = field(default_factory=PublisherOptions)
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    keepalive_s: int = 30
    health_qos: int = 0
    housekeeping_s: float = 5.0  # how often the backlog and disk alerts are re-evaluated
    state_path: str | None = None  # default: {db_path}.telemetry.json


class Telemetry:
    def __init__(self, config: Config, db_path: str | Path, control: KioskControl,
                 devices: Callable[[], Mapping[str, Any]], clock: Callable[[], datetime] = utc_now,
                 *, options: TelemetryOptions | None = None) -> None:
        self.options = options or TelemetryOptions()
        self.config = config
        try:
            self.kiosk_id = check_id(config.kiosk.id)
        except ValueError as exc:
            raise ConfigError(f"config: kiosk.id: {exc}") from None
        self.db_path = Path(db_path)
        self.control = control
        self.devices = devices
        self.clock = clock
        self.topics = KioskTopics(self.kiosk_id)
        self._health_interval = float(config.mqtt.health_interval_s)
        self._alert_depth = int(config.mqtt.outbox_alert_depth)
        self._started_at = self._now_iso()
        self._boot_time = boot_time()
        state_path = Path(self.options.state_path) if self.options.state_path else state_path_for(self.db_path)
        self.presence_store = PresenceStore(state_path)
        self.presence = Presence(self.topics, self.presence_store)
        self.alerts = AlertBoard(self.topics, self._now_iso)
        settings = ClientSettings.from_config(
            config.mqtt, self.kiosk_id, reconnect_min_s=self.options.reconnect_min_s,
            reconnect_max_s=self.options.reconnect_max_s, keepalive_s=self.options.keepalive_s,
            max_inflight=max(20, self.options.publisher.inflight_window))
        self.client = MqttClient(
            settings,
            subscriptions=[(self.topics.commands, 1), (self.topics.ack, 1),
                           (self.topics.config_desired, 1), (HOST_STATE, 1)],
            will=self.presence.will, on_connected=self._on_connected,
            on_disconnected=self._on_disconnected, on_message=self._on_message,
            name=f"mqtt-{self.kiosk_id}")
        self._stop = threading.Event()
        self._jobs: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._first_connect = True
        self._protocol = MQTT5
        self._publisher: OutboxPublisher | None = None
        self._started = False
        self._stopped = False
        self._conn: sqlite3.Connection | None = None

    # --- the API ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the publisher, command and MQTT threads. Returns at once."""
        if self._started:
            return
        self._started = True
        self._conn = connect(self.db_path)  # migrates if needed; the publisher thread's own connection
        outbox = Outbox(self._conn, clock=self.clock)
        self._publisher = OutboxPublisher(
            outbox, self._send_row, kiosk_id=self.kiosk_id, clock=self.clock,
            options=self.options.publisher, on_rejected=self._on_rejected)
        publisher = self._publisher
        self._threads = [
            threading.Thread(target=publisher.run, args=(self._stop,), name=f"telemetry-outbox-{self.kiosk_id}",
                             daemon=True),
            threading.Thread(target=self._control_loop, name=f"telemetry-control-{self.kiosk_id}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.client.start()
        log.info("telemetry started kiosk_id=%s broker=%s", self.kiosk_id, self.client.settings.address)

    def notify_outbox(self) -> None:
        """A sale or event was committed: publish it now."""
        if self._publisher is not None:
            self._publisher.wake()

    def set_alert(self, name: str, payload: Mapping[str, Any] | None) -> None:
        """Raise (payload: severity, message, ...) or clear (None) the retained alert ``name``.

        Safe from any thread; remembered and published on the next connection if offline.
        Raises ValueError for a bad name (a-z, 0-9, '_', '-') or a payload that is not JSON.
        """
        message = self.alerts.set(name, payload)
        if message is not None:  # offline: a no-op here; the next connection publishes the board
            self._publish(message[0], message[1], retain=True)

    def stop(self, drain_timeout_s: float = 10.0) -> int:
        """Wait up to ``drain_timeout_s`` for every outbox row to be acknowledged, then publish
        retained ``offline``, disconnect and stop. Returns the rows still unacknowledged (they stay
        on disk and are sent by the next run). Idempotent."""
        if self._stopped or not self._started:
            return self._depth()
        self._stopped = True
        deadline = time.monotonic() + max(0.0, drain_timeout_s)
        conn = connect(self.db_path)
        try:
            outbox = Outbox(conn)
            remaining = outbox.depth()
            while remaining and time.monotonic() < deadline:
                self.notify_outbox()
                time.sleep(0.05)
                remaining = outbox.depth()
        finally:
            conn.close()
        self._stop.set()
        self._jobs.put(("stop", None))
        for thread in self._threads:
            thread.join(5.0)
        if self._conn is not None and not self._threads[0].is_alive():
            self._conn.close()
        self.client.stop(final=[(self.topics.status, payloads.OFFLINE, True)], timeout=3.0)
        log.info("telemetry stopped kiosk_id=%s unacknowledged=%d", self.kiosk_id, remaining)
        return remaining

    def wait_online(self, timeout: float) -> bool:
        """True once connected (subscribed, birth sent) within ``timeout`` seconds."""
        return self.client.wait_connected(timeout)

    def status(self) -> dict[str, Any]:
        """For diagnostics, ``kiosk doctor`` and tests; no secrets."""
        publisher = self._publisher
        return {
            "connected": self.client.connected,
            "protocol": self._protocol,
            "publish_denials_detectable": self._protocol == MQTT5,
            "broker": str(self.client.settings.address),
            "last_error": self.client.last_error,
            "bd_seq": self.presence.bd_seq,
            "config_version": self.presence_store.state.config_version,
            "publisher": asdict(publisher.stats()) if publisher else None,
            "alerts": sorted(self.alerts.active()),
        }

    # --- MQTT callbacks (paho's thread: short, no waiting) -------------------------------------

    def _on_connected(self, info: Connected) -> None:
        self._protocol = info.protocol
        self.presence.session_started()
        self._publish_presence()
        first, self._first_connect = self._first_connect, False
        for topic, body in self.alerts.on_connect(first):
            self._publish(topic, body, retain=True)
        if self._publisher is not None:
            self._publisher.connected(info.generation)
        self._jobs.put(("health", None))

    def _on_disconnected(self, reason: str) -> None:
        if self._publisher is not None:
            self._publisher.disconnected()

    def _on_message(self, message: Inbound) -> None:
        topic = message.topic
        try:
            if topic == self.topics.ack:
                ids = payloads.parse_ack(message.payload)
                if self._publisher is not None:
                    self._publisher.acked_ids(ids)
            elif topic == HOST_STATE:
                if message.payload and self._publisher is not None:
                    self._publisher.host_state(payloads.parse_host_state(message.payload))
            elif topic == self.topics.config_desired:
                self._jobs.put(("config", message.payload))
            elif topic.startswith(self.topics.down("cmd/")):
                self._jobs.put(("command", message))
        except PayloadError as exc:
            log.warning("bad message ignored kiosk_id=%s topic=%s: %s", self.kiosk_id, topic, exc)

    # --- publishing helpers --------------------------------------------------------------------

    def _now_iso(self) -> str:
        return to_utc_iso(self.clock())

    def _publish(self, topic: str, body: bytes, *, qos: int = 1, retain: bool = False, **props: Any) -> None:
        def done(outcome: PublishOutcome) -> None:
            if outcome.status in ("denied", "error"):
                log.error("publish failed kiosk_id=%s topic=%s status=%s reason=%s", self.kiosk_id, topic,
                          outcome.status, outcome.reason)

        self.client.publish(topic, body, qos=qos, retain=retain, on_done=done, **props)

    def _send_row(self, suffix: str, body: bytes, on_done: Callable[[PublishOutcome], None]) -> None:
        self.client.publish(self.topics.outbox(suffix), body, qos=1, on_done=on_done)

    def _publish_presence(self) -> None:
        bd_seq = self.presence.bd_seq if self.presence.bd_seq is not None else 0
        birth = payloads.birth(
            kiosk_id=self.kiosk_id, bd_seq=bd_seq, ts=self._now_iso(), boot_time=self._boot_time,
            started_at=self._started_at, firmware=__version__,
            config_version=self.presence_store.state.config_version, protocol=self._protocol,
            capabilities={"commands": sorted(payloads.COMMANDS), "outbox": ["sales", "events"],
                          "config": True, "request_response": self._protocol == MQTT5,
                          "alerts": list(KNOWN_ALERTS)})
        self._publish(self.topics.birth, birth, retain=True)
        self._publish(self.topics.status, payloads.ONLINE, retain=True)

    def _on_rejected(self, reason: str | None) -> None:
        self.set_alert("outbox_rejected", None if reason is None else {
            "severity": "critical", "message": f"the broker refuses outbox publishes: {reason}; "
                                               "check the broker ACL for this kiosk id"})

    # --- the control thread: commands, config, health, alerts ----------------------------------

    def _control_loop(self) -> None:
        conn = connect(self.db_path)
        outbox = Outbox(conn, clock=self.clock)

        def outbox_state() -> tuple[int, float | None]:
            return outbox.depth(), outbox.oldest_age_s(self.clock())

        data_dir = self.db_path.parent
        sampler = HealthSampler(devices=self.devices, outbox=outbox_state,
                                last_sale=lambda: last_sale_at(conn), data_dir=data_dir,
                                extra=self._health_extra)
        handler = CommandHandler(self.topics, self.control, now_iso=self._now_iso,
                                 rebirth=self._rebirth, diagnostics=lambda: self._diagnostics(outbox_state))
        sync = ConfigSync(self.config, self.control, self.presence_store,
                          apply_telemetry=self._apply_telemetry_config, now_iso=self._now_iso)
        next_health = time.monotonic() + self._health_interval
        next_house = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_house:
                self._housekeeping(outbox_state, data_dir)
                next_house = now + self.options.housekeeping_s
            if now >= next_health:
                self._publish_health(sampler)
                next_health = now + self._health_interval
            try:
                kind, item = self._jobs.get(timeout=max(0.01, min(next_health, next_house) - time.monotonic()))
            except queue.Empty:
                continue
            try:
                if kind == "command":
                    self._run_command(handler, item)
                elif kind == "config":
                    reported = sync.handle(item)
                    if reported is not None:
                        self._publish(self.topics.config_reported, reported, retain=True)
                elif kind == "health":
                    self._publish_health(sampler)
                    next_health = time.monotonic() + self._health_interval
            except Exception:
                log.exception("telemetry control job %s failed kiosk_id=%s", kind, self.kiosk_id)
        conn.close()

    def _run_command(self, handler: CommandHandler, message: Inbound) -> None:
        reply, after = handler.handle(message)
        ticket = self.client.publish(reply.topic, reply.payload, qos=1,
                                     correlation_data=reply.correlation_data, expiry_s=reply.expiry_s,
                                     content_type="application/json")
        if after is not None:
            ticket.wait(2.0)  # let the reply leave before a restart takes the process down
            after()

    def _publish_health(self, sampler: HealthSampler) -> None:
        if not self.client.connected:
            return
        body = payloads.health(sampler.sample(), kiosk_id=self.kiosk_id, ts=self._now_iso())
        self._publish(self.topics.health, body, qos=self.options.health_qos)

    def _health_extra(self) -> dict[str, Any]:
        return {"mqtt": {"protocol": self._protocol, "publish_denials_detectable": self._protocol == MQTT5,
                         "bd_seq": self.presence.bd_seq},
                "alerts": sorted(self.alerts.active())}

    def _housekeeping(self, outbox_state: Callable[[], tuple[int, float | None]], data_dir: Path) -> None:
        depth, oldest = outbox_state()
        if depth >= self._alert_depth:
            self.set_alert("outbox_backlog", {
                "severity": "warning", "depth": depth, "threshold": self._alert_depth,
                "oldest_age_s": None if oldest is None else round(oldest),
                "message": f"{depth} sales/events not yet acknowledged by the fleet"})
        elif depth < self._alert_depth * 0.8:  # hysteresis: no flapping around the threshold
            self.set_alert("outbox_backlog", None)
        usage = disk(data_dir if data_dir.exists() else data_dir.parent)
        if usage is not None:
            if usage["low"]:
                self.set_alert("disk_low", {"severity": "critical", "free_mb": usage["free_mb"],
                                            "free_pct": usage["free_pct"], "path": usage["path"]})
            else:
                self.set_alert("disk_low", None)

    def _rebirth(self) -> None:
        self._publish_presence()
        for topic, body in self.alerts.on_connect(False):
            self._publish(topic, body, retain=True)

    def _apply_telemetry_config(self, config: Config, keys: list[str]) -> list[str]:
        if "mqtt.health_interval_s" in keys:
            self._health_interval = float(config.mqtt.health_interval_s)
            self._jobs.put(("health", None))
        if "mqtt.outbox_alert_depth" in keys:
            self._alert_depth = int(config.mqtt.outbox_alert_depth)
        return list(keys)

    def _diagnostics(self, outbox_state: Callable[[], tuple[int, float | None]]) -> dict[str, Any]:
        depth, oldest = outbox_state()
        return {**self.status(), "outbox": {"depth": depth, "oldest_age_s": oldest},
                "config": to_dict(self.config)}

    def _depth(self) -> int:
        if not self.db_path.exists():
            return 0
        conn = connect(self.db_path)
        try:
            return Outbox(conn).depth()
        finally:
            conn.close()
