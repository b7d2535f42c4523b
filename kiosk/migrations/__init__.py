"""Numbered schema migrations: ``NNNN_name.sql`` files applied in order, each in one transaction.

Never edit a migration that has shipped; add the next number instead. ``PRAGMA user_version``
holds the number of the last migration applied.
"""
