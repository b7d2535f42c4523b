"""What a scale protocol is: a pure, sans-I/O plug-in (like h11).

A protocol owns its serial settings, builds request bytes, makes incremental frame parsers
(bytes in, ``Frame`` values out) and decides whether a zero/tare/clear was accepted. Its
``DeviceSide`` is the scale's half of the conversation, used by the simulator, so the same module
defines both ends of the wire.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Protocol

from kiosk.peripherals.scale.reading import Command, Frame, Indication, SerialSettings


class FrameParser(ABC):
    """Incremental parser: ``feed`` any chunk of bytes, get the frames completed by it.

    Parsers never raise on bad input: garbage between frames is skipped, a malformed frame becomes
    a ``GARBLED`` frame, and an interrupted frame is dropped when the next frame starts.
    """

    @abstractmethod
    def feed(self, data: bytes) -> list[Frame]: ...

    @abstractmethod
    def reset(self) -> None:
        """Forget any partial frame (after flushing the port)."""


class Weighable(Protocol):
    """The simulated scale a ``DeviceSide`` reports on and acts upon."""

    def indication(self) -> Indication: ...

    def zero(self) -> str: ...  # ok | busy | above_range | below_range | net_mode

    def tare(self) -> str: ...  # ok | busy | range

    def clear_tare(self) -> str: ...  # ok | busy

    @property
    def tare_g(self) -> int: ...


class DeviceSide(ABC):
    """The scale's half of a protocol: splits the host's requests and builds the replies."""

    @abstractmethod
    def feed(self, data: bytes) -> list[str]:
        """Bytes from the host -> complete request names (``W``, ``SI``, ``Z`` ...)."""

    @abstractmethod
    def respond(self, request: str, scale: Weighable) -> bytes:
        """The reply to one request (may act on the scale, e.g. zero); b"" for no reply."""

    def stream(self, indication: Indication) -> bytes:
        """One unsolicited frame, for continuous protocols."""
        raise NotImplementedError


class ScaleProtocol(ABC):
    """One scale protocol. Instances are stateless; parsers and device sides hold the state."""

    name: ClassVar[str]
    title: ClassVar[str]
    settings: ClassVar[SerialSettings]
    continuous: ClassVar[bool] = False  # the scale streams frames without being asked
    reply_timeout_s: ClassVar[float] = 1.0  # for a weigh request
    command_timeout_s: ClassVar[float] = 3.0  # zero/tare may wait for stability

    requests: ClassVar[Mapping[Command, bytes]] = {}  # the bytes that ask for each command

    def request(self, command: Command) -> bytes | None:
        """The bytes that ask for ``command``; None when the protocol has no such command."""
        return self.requests.get(command)

    @abstractmethod
    def parser(self) -> FrameParser: ...

    @abstractmethod
    def accepted(self, command: Command, frame: Frame) -> bool:
        """Did the scale carry out ``command``, judging by its reply ``frame``?"""

    @abstractmethod
    def device(self) -> DeviceSide: ...

    def supports(self, command: Command) -> bool:
        return self.request(command) is not None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.settings}>"
