"""Clocks: the wall clock for a real kiosk, a hand-moved one for the simulator and tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimClock:
    """A clock that moves only when told to (``advance``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or utc_now().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._now += timedelta(seconds=seconds)
