"""Subcommands of ``kiosk``: one module each, each with ``register(subparsers)``."""
