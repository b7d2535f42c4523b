"""The MQTT topic tree of DESIGN 3.6, built and parsed by pure functions.

Every kiosk topic is ``kiosk/v1/{id}/up/...`` (kiosk to fleet) or ``kiosk/v1/{id}/down/...``
(fleet to kiosk). The broker ACL lets a kiosk write only its own ``up/`` and read only its own
``down/``, so the id in the topic is trusted and payloads need not be believed about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROOT = "kiosk/v1"
HOST_STATE = "fleet/v1/host/STATE"  # retained {"online": bool, "timestamp": ms}, Sparkplug STATE
ALL_UP = f"{ROOT}/+/up/#"  # what the fleet ingest subscribes to

# An id is one topic level: no separators or wildcards, and nothing a shell or a file name chokes on.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def valid_id(kiosk_id: str) -> bool:
    return bool(_ID.match(kiosk_id))


def check_id(kiosk_id: str) -> str:
    """Return ``kiosk_id`` or raise ValueError: it must be one safe topic level."""
    if not isinstance(kiosk_id, str) or not valid_id(kiosk_id):
        raise ValueError(f"kiosk id {kiosk_id!r} cannot be used in MQTT topics; use letters, digits, "
                         "'-', '_' or '.' (at most 64, starting with a letter or digit)")
    return kiosk_id


def check_name(kind: str, name: str) -> str:
    """Alert, command and requester names: lower-case letters, digits, '_' and '-'."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} is not allowed; use a-z, 0-9, '_' or '-' (at most 64)")
    return name


@dataclass(frozen=True, slots=True)
class KioskTopics:
    """Every topic one kiosk uses."""

    kiosk_id: str

    def __post_init__(self) -> None:
        check_id(self.kiosk_id)

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.kiosk_id}"

    def up(self, suffix: str) -> str:
        return f"{self.base}/up/{suffix}"

    def down(self, suffix: str) -> str:
        return f"{self.base}/down/{suffix}"

    @property
    def status(self) -> str:
        return self.up("status")

    @property
    def birth(self) -> str:
        return self.up("birth")

    @property
    def health(self) -> str:
        return self.up("health")

    def outbox(self, suffix: str) -> str:
        """Where an outbox row with topic ``sales`` or ``events`` is published."""
        return self.up(suffix)

    def alert(self, name: str) -> str:
        return self.up(f"alerts/{check_name('alert', name)}")

    @property
    def config_reported(self) -> str:
        return self.up("config/reported")

    def command_response(self, requester: str) -> str:
        """The default reply topic when a request names none (MQTT 3.1.1 has no ResponseTopic)."""
        return self.up(f"cmdres/{check_name('requester', requester)}")

    @property
    def ack(self) -> str:
        return self.down("ack")

    def command(self, name: str) -> str:
        return self.down(f"cmd/{check_name('command', name)}")

    @property
    def commands(self) -> str:
        """Subscription filter for every command."""
        return self.down("cmd/+")

    @property
    def config_desired(self) -> str:
        return self.down("config/desired")

    def owns_up(self, topic: str) -> bool:
        """True when ``topic`` is under this kiosk's own ``up/`` tree (where replies may go)."""
        return topic.startswith(self.base + "/up/") and "+" not in topic and "#" not in topic


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    kiosk_id: str
    direction: str  # up | down
    path: tuple[str, ...]  # the levels after up/ or down/

    @property
    def kind(self) -> str:
        return self.path[0]


def parse(topic: str) -> ParsedTopic:
    """Split a kiosk topic; raises ValueError for anything outside the tree."""
    parts = topic.split("/")
    if len(parts) < 5 or f"{parts[0]}/{parts[1]}" != ROOT or parts[3] not in ("up", "down"):
        raise ValueError(f"topic {topic!r} is not under {ROOT}/{{id}}/up|down/")
    if not valid_id(parts[2]) or any(not p for p in parts[4:]):
        raise ValueError(f"topic {topic!r} has an invalid kiosk id or an empty level")
    return ParsedTopic(kiosk_id=parts[2], direction=parts[3], path=tuple(parts[4:]))
