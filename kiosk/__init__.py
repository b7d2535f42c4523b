"""Self-checkout kiosk firmware: core package (config, money, barcodes, catalog, sales, store)."""

__version__ = "0.1.0"
