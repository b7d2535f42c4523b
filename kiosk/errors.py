"""One exception root for the kiosk, with leaves that also subclass the matching builtin.

A ``UserError`` is something a person caused (bad config, bad file, bad argument, missing
device): the CLI prints its message on one line and exits with ``exit_code`` (2), never a traceback.
"""

from __future__ import annotations


class KioskError(Exception):
    """Root of every error the kiosk raises on purpose."""


class UserError(KioskError):
    """An error a person can fix; its message names the thing and the fix."""

    exit_code = 2


class ConfigError(UserError, ValueError):
    """A configuration file or override is invalid."""


class CatalogError(UserError, ValueError):
    """A catalog file or row is invalid."""


class ScenarioError(UserError, ValueError):
    """A scenario file is malformed."""


class DeviceError(KioskError, OSError):
    """A peripheral is missing, unplugged or answering garbage."""


class StoreError(UserError):
    """The durable store cannot be opened, migrated or written (a bad path, a full or damaged disk)."""
