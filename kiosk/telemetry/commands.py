"""Remote commands (MQTT 5 request/response) and remote configuration (desired/reported).

Commands arrive on ``down/cmd/{name}``; the reply goes to the request's ResponseTopic with its
CorrelationData (which must be under the kiosk's own ``up/``, e.g. ``up/cmdres/{requester}``, or
the broker ACL would drop it). Without a ResponseTopic (MQTT 3.1.1) the reply goes to
``up/cmdres/{name}`` and a ``correlation_id`` field in the request is echoed. Unknown commands and
bad payloads get ``{"ok": false, "error": {"code", "message"}}`` and change nothing. A repeated
request (same command and correlation, e.g. a QoS 1 redelivery) gets the first reply again and is
not executed twice.

Configuration: the fleet publishes a retained ``down/config/desired`` ``{"version": N, "config":
{section: {key: value}}}`` holding overrides on top of the kiosk's own file. The kiosk validates
the whole document (``kiosk.config.build``), applies what can change live (through
``KioskControl.apply_config``; the telemetry keys ``mqtt.health_interval_s`` and
``mqtt.outbox_alert_depth`` it applies itself) and publishes a retained ``up/config/reported``:
``applied``, ``partial`` (some keys need a restart), ``unchanged`` or ``refused`` with a reason.
Connection settings (other ``mqtt.*`` keys, ``kiosk.id``) are refused: a typo there would cut the
kiosk off the fleet that has to fix it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.config import Config, build, merge
from kiosk.errors import ConfigError, KioskError
from kiosk.telemetry import payloads
from kiosk.telemetry.client import Inbound
from kiosk.telemetry.payloads import Command, PayloadError, PriceChange
from kiosk.telemetry.presence import PresenceStore
from kiosk.telemetry.topics import KioskTopics, parse

log = logging.getLogger("kiosk.telemetry.commands")

REPLY_EXPIRY_S = 300
TELEMETRY_KEYS = frozenset({"mqtt.health_interval_s", "mqtt.outbox_alert_depth"})
_REMEMBERED_REPLIES = 256


class KioskControl(Protocol):
    """What the fleet may ask of the kiosk. The kiosk core implements it.

    Methods are called on the telemetry's command thread, never on the core thread: implement them
    by posting into the core queue and waiting (bounded) for the result. Raise ``ValueError`` (or a
    ``KioskError``) to refuse with a message the fleet will see; refusing must change nothing.
    """

    def lock(self, reason: str, by: str) -> None:
        """Take the lane out of service (finish or park the current shopper first)."""

    def unlock(self, by: str) -> None:
        """Put the lane back in service."""

    def restart(self) -> None:
        """Schedule a restart (exit so systemd restarts us); the reply is sent before this call."""

    def reload_catalog(self) -> int:
        """Reload the catalog; return the number of items now loaded."""
        ...

    def set_prices(self, changes: list[PriceChange]) -> int:
        """Change prices all-or-nothing (an unknown item refuses the whole list); return the count."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Diagnostics: state, cart, devices, versions ... (no secrets, no full phone numbers)."""
        ...

    def log_tail(self, n: int) -> list[str]:
        """The last ``n`` log lines (already free of secrets)."""
        ...

    def apply_config(self, config: Config, changed: list[str]) -> list[str]:
        """Apply the validated ``config`` live where possible; ``changed`` holds dotted keys such as
        ``security.tolerance_g``. Return the keys applied; the others are reported as needing a
        restart."""
        ...


@dataclass(frozen=True, slots=True)
class Reply:
    topic: str
    payload: bytes
    correlation_data: bytes | None
    expiry_s: int


class CommandHandler:
    """Turns one command request into one reply (and maybe an action to run after replying)."""

    def __init__(self, topics: KioskTopics, control: KioskControl, *, now_iso: Callable[[], str],
                 rebirth: Callable[[], None], diagnostics: Callable[[], dict[str, Any]]) -> None:
        self.topics = topics
        self.control = control
        self.now_iso = now_iso
        self.rebirth = rebirth
        self.diagnostics = diagnostics
        self._replies: OrderedDict[tuple[str, bytes], Reply] = OrderedDict()

    def handle(self, message: Inbound) -> tuple[Reply, Callable[[], None] | None]:
        name = _command_name(message.topic)
        reply_topic = self.topics.command_response(name if _safe(name) else "invalid")
        if message.response_topic:
            if self.topics.owns_up(message.response_topic):
                reply_topic = message.response_topic
            else:
                log.warning("command %s asked for a reply on %s, outside this kiosk's up/ tree; replying on %s",
                            name, message.response_topic, reply_topic)
        expiry = min(message.expiry_s or REPLY_EXPIRY_S, REPLY_EXPIRY_S)

        def reply(body: bytes) -> Reply:
            return Reply(reply_topic, body, message.correlation_data, expiry)

        try:
            command = payloads.parse_command(name, message.payload)
        except PayloadError as exc:
            log.warning("command refused kiosk_id=%s name=%s code=%s: %s", self.topics.kiosk_id, name,
                        exc.code, exc)
            return reply(payloads.command_response(name, ok=False, ts=self.now_iso(), code=exc.code,
                                                   message=str(exc))), None
        key = _dedup_key(command, message.correlation_data)
        if key is not None and key in self._replies:
            log.info("repeated command not run again kiosk_id=%s name=%s", self.topics.kiosk_id, name)
            return self._replies[key], None
        after: Callable[[], None] | None = None
        try:
            result, after = self._run(command)
            body = payloads.command_response(name, ok=True, ts=self.now_iso(), result=result,
                                             correlation_id=command.correlation_id)
            log.info("command done kiosk_id=%s name=%s", self.topics.kiosk_id, name)
        except (ValueError, KeyError, KioskError) as exc:
            text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            body = payloads.command_response(name, ok=False, ts=self.now_iso(), code="rejected",
                                             message=text, correlation_id=command.correlation_id)
            log.warning("command rejected kiosk_id=%s name=%s: %s", self.topics.kiosk_id, name, text)
        except Exception as exc:  # the kiosk's bug, reported without a traceback or internals
            body = payloads.command_response(name, ok=False, ts=self.now_iso(), code="failed",
                                             message=f"{type(exc).__name__}: {exc}",
                                             correlation_id=command.correlation_id)
            log.exception("command failed kiosk_id=%s name=%s", self.topics.kiosk_id, name)
        answer = reply(body)
        if key is not None:
            self._replies[key] = answer
            while len(self._replies) > _REMEMBERED_REPLIES:
                self._replies.popitem(last=False)
        return answer, after

    def _run(self, command: Command) -> tuple[Any, Callable[[], None] | None]:
        a, c = command.args, self.control
        match command.name:
            case "lock":
                c.lock(a["reason"], a["by"])
                return {"locked": True}, None
            case "unlock":
                c.unlock(a["by"])
                return {"locked": False}, None
            case "restart":
                return {"restarting": True}, c.restart
            case "rebirth":
                self.rebirth()
                return {"rebirth": True}, None
            case "reload_catalog":
                return {"items": int(c.reload_catalog())}, None
            case "set_prices":
                return {"updated": int(c.set_prices(list(a["prices"])))}, None
            case "diagnostics":
                return {"kiosk": c.snapshot(), "telemetry": self.diagnostics()}, None
            case "log_tail":
                return {"lines": [str(line) for line in c.log_tail(a["lines"])]}, None
        raise PayloadError(f"unknown command {command.name!r}", code="unknown_command")  # pragma: no cover


def _command_name(topic: str) -> str:
    try:
        parsed = parse(topic)
    except ValueError:
        return ""
    return parsed.path[1] if len(parsed.path) == 2 and parsed.path[0] == "cmd" else ""


def _safe(name: str) -> bool:
    try:
        KioskTopics("x").command_response(name)
    except ValueError:
        return False
    return True


def _dedup_key(command: Command, correlation_data: bytes | None) -> tuple[str, bytes] | None:
    if correlation_data:
        return command.name, bytes(correlation_data)
    if command.correlation_id:
        return command.name, command.correlation_id.encode()
    return None


# --- configuration ----------------------------------------------------------------------------

def config_data(config: Config) -> dict[str, Any]:
    """The config as TOML-shaped data (secrets included: for re-validation, never for sending)."""
    return dataclasses.asdict(config)


def changed_keys(old: Config, new: Config) -> list[str]:
    """Dotted keys whose values differ (lists compare whole)."""
    out: list[str] = []

    def walk(a: Any, b: Any, prefix: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
        elif a != b:
            out.append(prefix)

    walk(config_data(old), config_data(new), "")
    return out


def _forbidden(key: str) -> bool:
    return key == "kiosk.id" or (key.startswith("mqtt.") and key not in TELEMETRY_KEYS)


class ConfigSync:
    """Desired -> validated -> applied -> reported. ``handle`` returns the reported payload."""

    def __init__(self, base: Config, control: KioskControl, store: PresenceStore, *,
                 apply_telemetry: Callable[[Config, list[str]], list[str]],
                 now_iso: Callable[[], str]) -> None:
        self.base = base
        self.effective = base
        self.control = control
        self.store = store
        self.apply_telemetry = apply_telemetry
        self.now_iso = now_iso
        self.applied_version: int | None = None  # in this process

    def handle(self, payload: bytes) -> bytes | None:
        if not payload:
            return None  # the fleet cleared desired: keep what we run
        try:
            desired = payloads.parse_desired(payload)
        except PayloadError as exc:
            return self._refused(None, str(exc))
        if desired.version == self.applied_version:
            return None  # the retained copy again after a reconnect
        last = self.store.state.config_version
        if last is not None and desired.version < last:
            return self._refused(desired.version, f"version {desired.version} is older than the applied "
                                                  f"version {last}; publish a higher version")
        try:
            new = build(Config, merge(config_data(self.base), desired.config), "")
        except ConfigError as exc:
            return self._refused(desired.version, str(exc))
        changed = changed_keys(self.effective, new)
        forbidden = [k for k in changed if _forbidden(k)]
        if forbidden:
            return self._refused(desired.version, f"{forbidden[0]} cannot be changed remotely (a mistake "
                                                  "would cut the kiosk off the fleet); change it in the "
                                                  "kiosk's config file")
        own = [k for k in changed if k in TELEMETRY_KEYS]
        rest = [k for k in changed if k not in TELEMETRY_KEYS]
        applied: list[str] = []
        try:
            if rest:
                applied = [k for k in self.control.apply_config(new, rest) if k in rest]
            applied += self.apply_telemetry(new, own)
        except (ValueError, KioskError) as exc:
            return self._refused(desired.version, str(exc))
        except Exception as exc:
            log.exception("apply_config failed version=%s", desired.version)
            return self._refused(desired.version, f"applying failed: {type(exc).__name__}: {exc}")
        needs_restart = sorted(set(changed) - set(applied))
        self.effective = new
        self.applied_version = desired.version
        self.store.update(config_version=desired.version)
        status = "unchanged" if not changed else ("partial" if needs_restart else "applied")
        log.info("config version %s %s applied=%s needs_restart=%s", desired.version, status, applied,
                 needs_restart)
        return payloads.config_reported(version=desired.version, status=status, ts=self.now_iso(),
                                        applied=applied, needs_restart=needs_restart)

    def _refused(self, version: int | None, reason: str) -> bytes:
        log.warning("config version %s refused: %s", version, reason)
        return payloads.config_reported(version=version, status="refused", ts=self.now_iso(),
                                        reason=reason)
