"""A thin paho-mqtt 2.x client: one connection at a time, honest publish results.

What it adds to paho (DESIGN 6, reference/mqtt.md 1.7):

- MQTT 5 with ``clean_start=False`` and a session expiry, so commands sent while the kiosk is
  down are queued by the broker; when the broker answers "unsupported protocol version" it falls
  back to MQTT 3.1.1 with ``clean_session=False`` (``?protocol=3.1.1`` in the URL forces that).
- Its own reconnect loop with exponential backoff. Every attempt gets a *fresh* paho client, so
  paho never replays messages it kept in memory from an older connection: the durable outbox is
  the only source of resends, which keeps sales in order.
- ``publish`` returns a ``PublishTicket`` whose outcome comes from the broker's reason code. A
  publish the ACL denies is ``denied`` (MQTT 5 PUBACK 0x87), never a success. MQTT 3.1.1 has no
  reason codes and Mosquitto drops a denied publish silently, so under 3.1.1 outcomes carry
  ``verified=False``: nobody can tell a delivered publish from a dropped one there.
- Connection failures become one clear sentence in ``last_error`` (wrong CA, refused login, ...).
- ``probe`` (``kiosk doctor``) connects as the kiosk's user but with its own client id and no
  stored session, so it never takes over the kiosk's session (queued commands) or its connection.
- A broker URL is quoted in messages only through ``redact_url`` (no ``user:password@``).

Callbacks given to ``MqttClient`` run on paho's network thread: keep them short and never wait
on a ticket inside one.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from kiosk.config import MqttSection
from kiosk.errors import ConfigError, KioskError

log = logging.getLogger("kiosk.telemetry.mqtt")

MQTT5 = "5"
MQTT311 = "3.1.1"
_UNSUPPORTED_PROTOCOL = 0x84


class TelemetryError(KioskError):
    """Root of MQTT telemetry errors."""


class BrokerError(TelemetryError, ConnectionError):
    """The broker cannot be reached or refused us; the message says why and what to check."""


class PublishDenied(TelemetryError, PermissionError):
    """The broker refused a publish (ACL): a configuration error, not a network blip."""


class PublishLost(TelemetryError, ConnectionError):
    """The connection went away before the broker confirmed a publish."""


# --- settings -------------------------------------------------------------------------------------

def redact_url(url: str) -> str:
    """``url`` without any ``user:password@``, fit to quote in a message or a log line.

    Everything up to the last ``@`` of the part after the scheme goes, so a password holding
    ``/``, ``?``, ``#`` or ``@`` is not half kept the way a URL parser would split it.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = rest.rpartition("@")[2]
    return f"{scheme}{sep}{rest}"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    protocol: str | None = None  # None = MQTT 5 with fallback; "5" or "3.1.1" to force

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://host[:1883]``, ``mqtts://host[:8883]`` (also tcp/ssl/tls), ``?protocol=3.1.1``."""
        shown = redact_url(url)
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unclosed [IPv6 bracket
            raise ConfigError(f"config: mqtt.url = {shown!r} is not a URL; expected mqtt://HOST:PORT "
                              "or mqtts://HOST:PORT") from None
        scheme = parts.scheme.lower()
        if scheme not in ("mqtt", "tcp", "mqtts", "ssl", "tls"):
            raise ConfigError(f"config: mqtt.url = {shown!r} is not allowed; expected mqtt://HOST:PORT "
                              "or mqtts://HOST:PORT")
        tls = scheme in ("mqtts", "ssl", "tls")
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise ConfigError(f"config: mqtt.url = {shown!r} has a bad port") from None
        if not parts.hostname:
            raise ConfigError(f"config: mqtt.url = {shown!r} names no host")
        protocol = None
        query = parse_qs(parts.query)
        if "protocol" in query:
            wanted = query["protocol"][-1].lower().removeprefix("mqttv").removeprefix("v")
            protocol = {"5": MQTT5, "5.0": MQTT5, "3.1.1": MQTT311, "311": MQTT311}.get(wanted)
            if protocol is None:
                raise ConfigError(f"config: mqtt.url protocol={query['protocol'][-1]!r} is not allowed; "
                                  "expected 5 or 3.1.1")
        return cls(parts.hostname, port, tls, protocol)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClientSettings:
    address: BrokerAddress
    client_id: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    session_expiry_s: int = 86400
    clean_start: bool = False  # True: no stored session (probes); the kiosk keeps one
    keepalive_s: int = 30
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    connect_timeout_s: float = 5.0
    max_inflight: int = 100

    @classmethod
    def from_config(cls, mqtt: MqttSection, client_id: str, **tuning: Any) -> ClientSettings:
        """The kiosk's settings: client id = kiosk id, username defaults to the kiosk id.

        Username and password are sent only when a password is configured; with client
        certificates the broker takes the identity from the certificate (``use_identity_as_username``).
        """
        address = BrokerAddress.parse(mqtt.url)
        tls = address.tls or bool(mqtt.ca or mqtt.cert)
        if address.tls != tls:
            address = BrokerAddress(address.host, address.port, tls, address.protocol)
        if bool(mqtt.cert) != bool(mqtt.key):
            raise ConfigError("config: mqtt.cert and mqtt.key go together; set both or neither")
        return cls(address=address, client_id=client_id,
                   username=(mqtt.username or client_id) if mqtt.password else None,
                   password=mqtt.password or None, ca=mqtt.ca or None, cert=mqtt.cert or None,
                   key=mqtt.key or None, session_expiry_s=mqtt.session_expiry_s, **tuning)

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context, or None for plain TCP; a missing or bad file is a ConfigError."""
        if not self.address.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"config: mqtt.ca = {self.ca!r} cannot be used as a CA file: {_why(exc)}") from None
        if self.cert:
            try:
                context.load_cert_chain(self.cert, self.key)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"config: mqtt.cert = {self.cert!r} / mqtt.key = {self.key!r} cannot be "
                                  f"loaded as a client certificate and key: {_why(exc)}") from None
        return context


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def describe_connect_error(exc: BaseException, settings: ClientSettings) -> str:
    """One sentence naming the broker, what went wrong and what to check."""
    where = str(settings.address)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: the certificate of broker {where} is not trusted ({_why(exc)}); check mqtt.ca "
                f"({settings.ca or 'system CAs'}) and that the certificate is issued for {settings.address.host}")
    if isinstance(exc, ssl.SSLError):
        return (f"TLS handshake with broker {where} failed ({_why(exc)}); check mqtt.ca, mqtt.cert and "
                "mqtt.key and that the URL points at the broker's TLS listener")
    if isinstance(exc, ConnectionRefusedError):
        return f"broker {where} refused the TCP connection; is it running and listening on that port?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the broker host {settings.address.host!r}; check mqtt.url"
    if isinstance(exc, TimeoutError):
        return f"no answer from broker {where} within {settings.connect_timeout_s:g} s"
    return f"cannot connect to broker {where}: {_why(exc)}"


# --- messages and results --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True
    user_properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Inbound:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    response_topic: str | None = None
    correlation_data: bytes | None = None
    expiry_s: int | None = None
    user_properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str  # "5" or "3.1.1"
    session_present: bool
    generation: int  # 1 for the first connection of this client, then 2, 3 ...

    @property
    def denials_detectable(self) -> bool:
        """MQTT 5 reports an ACL-denied publish; 3.1.1 cannot (Mosquitto drops it silently)."""
        return self.protocol == MQTT5


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    status: str  # acked (QoS 1 PUBACK ok) | sent (QoS 0 written) | denied | lost | error
    reason: str = ""
    verified: bool = False  # the broker's reason code was available (MQTT 5)

    @property
    def ok(self) -> bool:
        return self.status in ("acked", "sent")


class PublishTicket:
    """The fate of one publish: ``wait`` for the outcome, or pass ``on_done`` to ``publish``."""

    def __init__(self, topic: str, qos: int, on_done: Callable[[PublishOutcome], None] | None) -> None:
        self.topic = topic
        self.qos = qos
        self.outcome: PublishOutcome | None = None
        self._done = threading.Event()
        self._on_done = on_done
        self._lock = threading.Lock()

    def _complete(self, outcome: PublishOutcome) -> None:
        if self.qos == 0 and outcome.status == "acked":
            outcome = PublishOutcome("sent", "written to the socket (QoS 0)", False)
        with self._lock:
            if self.outcome is not None:
                return
            self.outcome = outcome
        self._done.set()
        if self._on_done is not None:
            try:
                self._on_done(outcome)
            except Exception:
                log.exception("publish callback failed topic=%s", self.topic)

    def wait(self, timeout: float | None = None) -> PublishOutcome | None:
        """The outcome, or None if it is not known within ``timeout`` seconds."""
        self._done.wait(timeout)
        return self.outcome

    def result(self, timeout: float | None = None) -> PublishOutcome:
        """The successful outcome, else raise PublishDenied / PublishLost / TimeoutError."""
        outcome = self.wait(timeout)
        if outcome is None:
            raise TimeoutError(f"no PUBACK for {self.topic} within {timeout} s")
        if outcome.status == "denied":
            raise PublishDenied(f"the broker refused a publish on {self.topic}: {outcome.reason}")
        if not outcome.ok:
            raise PublishLost(f"publish on {self.topic} did not complete: {outcome.reason}")
        return outcome


_LOST = PublishOutcome("lost", "connection lost before the broker confirmed")


class _Session:
    """One connection attempt: its paho client and the tickets waiting on it."""

    def __init__(self, paho_client: paho.Client, protocol: str) -> None:
        self.paho = paho_client
        self.protocol = protocol
        self.lock = threading.Lock()
        self.pending: dict[int, PublishTicket] = {}
        self.early: dict[int, PublishOutcome] = {}  # on_publish ran before publish() returned
        self.closed = False
        self.connacked = threading.Event()
        self.ended = threading.Event()
        self.ready = False
        self.downgrade = False
        self.refused = False
        self.sub_mid: int | None = None
        self.session_present = False
        self.last_log_error = ""


# --- the client ------------------------------------------------------------------------------------

class MqttClient:
    """Keeps one MQTT connection up until ``stop``; see the module docstring."""

    def __init__(self, settings: ClientSettings, *,
                 subscriptions: Sequence[tuple[str, int]] = (),
                 will: Callable[[], Will | None] | None = None,
                 on_connected: Callable[[Connected], None] | None = None,
                 on_disconnected: Callable[[str], None] | None = None,
                 on_message: Callable[[Inbound], None] | None = None,
                 name: str = "mqtt") -> None:
        self.settings = settings
        self._tls = settings.tls_context()  # a bad CA/cert file fails here, not in a thread later
        self._subscriptions = list(subscriptions)
        self._will = will
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_message = on_message
        self._name = name
        self._protocol = settings.address.protocol or MQTT5
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._state_lock = threading.Lock()
        self._session: _Session | None = None
        self._thread: threading.Thread | None = None
        self.generation = 0
        self.last_error: str | None = None
        self.attempts = 0

    # -- public state --
    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def protocol(self) -> str:
        return self._protocol

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    # -- lifecycle --
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._supervise, name=f"{self._name}-supervisor", daemon=True)
        self._thread.start()

    def stop(self, final: Sequence[tuple[str, bytes, bool]] = (), timeout: float = 3.0) -> bool:
        """Publish ``final`` (topic, payload, retain) at QoS 1, disconnect cleanly, stop the loop.

        Returns True when every final message was acknowledged. Idempotent.
        """
        deadline = time.monotonic() + timeout
        delivered = True
        session = self._session
        if session is not None and session.ready and not session.closed:
            tickets = [self.publish(topic, payload, qos=1, retain=retain) for topic, payload, retain in final]
            for ticket in tickets:
                outcome = ticket.wait(max(0.0, deadline - time.monotonic()))
                delivered = delivered and outcome is not None and outcome.ok
        elif final:
            delivered = False
        self._stopping.set()  # the supervisor disconnects cleanly (no Will) and stops the loop
        if self._thread is not None:
            self._thread.join(max(0.5, deadline - time.monotonic() + self.settings.connect_timeout_s))
        self._ready.clear()
        return delivered

    # -- publishing --
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False, *,
                response_topic: str | None = None, correlation_data: bytes | None = None,
                expiry_s: int | None = None, content_type: str | None = None,
                user_properties: Sequence[tuple[str, str]] = (),
                on_done: Callable[[PublishOutcome], None] | None = None) -> PublishTicket:
        """Send now if connected; never queues in memory (the outbox is the durable queue)."""
        ticket = PublishTicket(topic, qos, on_done)
        session = self._session
        if session is None or session.closed or not session.connacked.is_set():
            ticket._complete(PublishOutcome("lost", "not connected"))
            return ticket
        properties = None
        if session.protocol == MQTT5 and (response_topic or correlation_data is not None or expiry_s
                                          or content_type or user_properties):
            properties = Properties(PacketTypes.PUBLISH)
            if response_topic:
                properties.ResponseTopic = response_topic
            if correlation_data is not None:
                properties.CorrelationData = correlation_data
            if expiry_s:
                properties.MessageExpiryInterval = int(expiry_s)
            if content_type:
                properties.ContentType = content_type
            if user_properties:
                properties.UserProperty = list(user_properties)
        try:
            info = session.paho.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        except (ValueError, TypeError) as exc:
            ticket._complete(PublishOutcome("error", str(exc)))
            return ticket
        early = None
        with session.lock:
            early = session.early.pop(info.mid, None)
            if early is None:
                if session.closed or info.rc != paho.MQTT_ERR_SUCCESS:
                    early = PublishOutcome("lost", paho.error_string(info.rc) if info.rc else _LOST.reason)
                else:
                    session.pending[info.mid] = ticket
        if early is not None:
            ticket._complete(early)
        return ticket

    # -- the reconnect loop --
    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            session = self._new_session()
            self.attempts += 1
            try:
                if session.protocol == MQTT5:
                    props = Properties(PacketTypes.CONNECT)
                    props.SessionExpiryInterval = int(self.settings.session_expiry_s)
                    session.paho.connect(self.settings.address.host, self.settings.address.port,
                                         keepalive=self.settings.keepalive_s,
                                         clean_start=self.settings.clean_start, properties=props)
                else:
                    session.paho.connect(self.settings.address.host, self.settings.address.port,
                                         keepalive=self.settings.keepalive_s)
            except Exception as exc:  # OSError/SSLError mostly; anything else must not end the loop
                if not isinstance(exc, OSError):
                    log.exception("mqtt connect raised client_id=%s", self.settings.client_id)
                self._fail(describe_connect_error(exc, self.settings))
                failures += 1
                self._backoff(failures)
                continue
            with self._state_lock:
                self._session = session
            session.paho.loop_start()
            connack_deadline = time.monotonic() + self.settings.connect_timeout_s * 2
            disconnecting = False
            while not session.ended.wait(0.05 if self._stopping.is_set() else 0.25):
                late = not session.connacked.is_set() and time.monotonic() > connack_deadline
                if late and not disconnecting:
                    self._fail(f"broker {self.settings.address} accepted the connection but sent no CONNACK "
                               f"within {self.settings.connect_timeout_s * 2:g} s")
                if (self._stopping.is_set() or late) and not disconnecting:
                    disconnecting = True
                    session.paho.disconnect()
            session.paho.loop_stop()
            if session.downgrade:
                continue  # straight away, now with MQTT 3.1.1
            if session.ready:
                failures = 0
            else:
                failures += 1
            self._backoff(max(failures, 1))
        log.debug("mqtt supervisor stopped client_id=%s", self.settings.client_id)

    def _backoff(self, failures: int) -> None:
        delay = min(self.settings.reconnect_max_s, self.settings.reconnect_min_s * 2 ** min(failures - 1, 16))
        self._stopping.wait(delay * random.uniform(0.8, 1.2))

    def _fail(self, message: str) -> None:
        if message != self.last_error:
            log.warning("mqtt connect failed client_id=%s: %s", self.settings.client_id, message)
        self.last_error = message

    def _new_session(self) -> _Session:
        v5 = self._protocol == MQTT5
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.settings.client_id,
                             protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
                             clean_session=None if v5 else self.settings.clean_start,
                             reconnect_on_failure=False)
        client.connect_timeout = self.settings.connect_timeout_s
        client.max_inflight_messages_set(self.settings.max_inflight)
        if self.settings.username:
            client.username_pw_set(self.settings.username, self.settings.password)
        if self._tls is not None:
            client.tls_set_context(self._tls)
        will = self._will() if self._will else None
        if will is not None:
            props = None
            if v5 and will.user_properties:
                props = Properties(PacketTypes.WILLMESSAGE)
                props.UserProperty = list(will.user_properties)
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain, properties=props)
        session = _Session(client, self._protocol)
        client.on_connect = lambda c, u, f, rc, p: self._guard(self._handle_connect, session, f, rc)
        client.on_subscribe = lambda c, u, mid, rcs, p: self._guard(self._handle_subscribe, session, mid, rcs)
        client.on_publish = lambda c, u, mid, rc, p: self._guard(self._handle_publish, session, mid, rc)
        client.on_message = lambda c, u, m: self._guard(self._handle_message, session, m)
        client.on_disconnect = lambda c, u, f, rc, p: self._guard(self._handle_disconnect, session, rc)
        client.on_log = lambda c, u, level, text: self._handle_log(session, level, text)
        return session

    # -- paho callbacks (network thread) --
    def _guard(self, handler: Callable[..., None], *args: Any) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("mqtt callback %s failed client_id=%s", handler.__name__, self.settings.client_id)

    def _handle_log(self, session: _Session, level: int, text: str) -> None:
        if level == paho.MQTT_LOG_ERR:
            session.last_log_error = text

    def _handle_connect(self, session: _Session, flags: Any, reason: ReasonCode) -> None:
        if reason.is_failure:
            if session.protocol == MQTT5 and reason.value == _UNSUPPORTED_PROTOCOL \
                    and self.settings.address.protocol is None:
                session.downgrade = True
                self._protocol = MQTT311
                self._fail(f"broker {self.settings.address} does not speak MQTT 5; falling back to 3.1.1 "
                           "(ACL-denied publishes cannot be detected with 3.1.1)")
            else:
                who = f" as {self.settings.username!r}" if self.settings.username else ""
                self._fail(f"broker {self.settings.address} refused the connection{who}: {reason}; "
                           "check mqtt.username/mqtt.password or the client certificate and the broker ACL")
            session.refused = True
            return
        session.session_present = bool(getattr(flags, "session_present", False))
        session.connacked.set()
        if self._subscriptions:
            if session.protocol == MQTT5:
                topics: list[Any] = [(t, SubscribeOptions(qos=q)) for t, q in self._subscriptions]
            else:
                topics = list(self._subscriptions)
            _, session.sub_mid = session.paho.subscribe(topics)
        else:
            self._mark_ready(session)

    def _handle_subscribe(self, session: _Session, mid: int, reasons: list[ReasonCode]) -> None:
        if mid != session.sub_mid or session.ready:
            return
        for (topic, _), reason in zip(self._subscriptions, reasons, strict=False):
            if reason.is_failure:
                log.error("mqtt subscription refused client_id=%s topic=%s reason=%s; check the broker ACL",
                          self.settings.client_id, topic, reason)
        self._mark_ready(session)

    def _mark_ready(self, session: _Session) -> None:
        with self._state_lock:
            if session.closed:
                return
            session.ready = True
            self.generation += 1
            generation = self.generation
        self.last_error = None
        if session.protocol == MQTT311:
            log.warning("mqtt connected with 3.1.1 client_id=%s: the broker cannot report ACL-denied "
                        "publishes; only fleet acks prove delivery", self.settings.client_id)
        else:
            log.info("mqtt connected client_id=%s protocol=5 session_present=%s", self.settings.client_id,
                     session.session_present)
        try:
            if self._on_connected:
                self._on_connected(Connected(session.protocol, session.session_present, generation))
        finally:
            with self._state_lock:  # after on_connected, so waiters see the birth already on its way
                if not session.closed:
                    self._ready.set()

    def _handle_publish(self, session: _Session, mid: int, reason: ReasonCode) -> None:
        verified = session.protocol == MQTT5
        if reason.is_failure:
            outcome = PublishOutcome("denied", str(reason), verified)
        else:
            outcome = PublishOutcome("acked", str(reason), verified)
        with session.lock:
            ticket = session.pending.pop(mid, None)
            if ticket is None:
                session.early[mid] = outcome
                return
        if outcome.status == "denied":
            log.error("mqtt publish denied client_id=%s topic=%s reason=%s", self.settings.client_id,
                      ticket.topic, reason)
        ticket._complete(outcome)

    def _handle_message(self, session: _Session, message: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        props = getattr(message, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None) if props else None
        correlation = getattr(props, "CorrelationData", None) if props else None
        expiry = getattr(props, "MessageExpiryInterval", None) if props else None
        users = tuple(getattr(props, "UserProperty", ()) or ()) if props else ()
        try:
            topic = message.topic
        except UnicodeDecodeError:
            log.warning("mqtt message with a non-UTF-8 topic ignored client_id=%s", self.settings.client_id)
            return
        self._on_message(Inbound(topic, bytes(message.payload), message.qos, bool(message.retain),
                                 response_topic, correlation, expiry, users))

    def _handle_disconnect(self, session: _Session, reason: ReasonCode | int) -> None:
        with self._state_lock:
            with session.lock:
                session.closed = True
                pending = list(session.pending.values())
                session.pending.clear()
                session.early.clear()
            was_ready = session.ready
            if self._session is session:
                self._ready.clear()
        for ticket in pending:
            ticket._complete(_LOST)
        session.ended.set()
        if not session.connacked.is_set() and not session.downgrade and not session.refused:
            hint = session.last_log_error or str(reason)
            tls = (" (with TLS this often means the broker refused the client certificate)"
                   if self.settings.address.tls else
                   " (if this port expects TLS, use mqtts:// and set mqtt.ca)")
            self._fail(f"broker {self.settings.address} closed the connection before CONNACK: {hint}{tls}")
        if was_ready:
            level = logging.INFO if self._stopping.is_set() else logging.WARNING
            log.log(level, "mqtt disconnected client_id=%s reason=%s", self.settings.client_id, reason)
            if self._on_disconnected:
                self._on_disconnected(str(reason))


PROBE_SUFFIX = "-doctor"


def probe_settings(settings: ClientSettings, suffix: str = PROBE_SUFFIX) -> ClientSettings:
    """``settings`` for a one-off check: same user, password and TLS identity (the ACL keys on
    the username), but client id ``{client_id}{suffix}`` and no stored session.

    With the kiosk's own client id and its persistent session the broker would hand the probe
    the kiosk's session (QoS 1 commands queued while it was down, delivered to the probe and
    lost) and disconnect a running kiosk (its Will ``offline`` fires).
    """
    client_id = settings.client_id if settings.client_id.endswith(suffix) else settings.client_id + suffix
    return replace(settings, client_id=client_id, clean_start=True, session_expiry_s=0)


def probe(settings: ClientSettings, timeout: float = 5.0) -> Connected:
    """Connect once and disconnect: for ``kiosk doctor`` and tests. Raises ``BrokerError``.

    Connects with ``probe_settings(settings)``, never as the kiosk's session (see there).
    """
    settings = probe_settings(settings)
    seen: list[Connected] = []
    client = MqttClient(settings, on_connected=seen.append, name="mqtt-probe")
    client.start()
    try:
        if not client.wait_connected(timeout) or not seen:
            raise BrokerError(client.last_error or f"no connection to broker {settings.address} within {timeout:g} s")
        return seen[0]
    finally:
        client.stop(timeout=1.0)
