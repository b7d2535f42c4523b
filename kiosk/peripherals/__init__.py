"""Peripherals: scales, printer, GPIO, camera and scanner.

Each kind is a pure protocol (bytes in, values out), a thin transport that owns the device and
posts events into the core queue, and a simulator that speaks the real protocol for tests and
``--simulate``.
"""
