"""Mettler Toledo 8217: bytes in, frames out; every status bit; bad frames never weigh."""

from __future__ import annotations

import pytest

from kiosk.peripherals.scale.reading import Command, Frame, FrameKind, Indication, Status
from kiosk.peripherals.scale.simulator import ScaleModel
from kiosk.peripherals.scale.toledo8217 import (
    Toledo8217,
    Toledo8217Parser,
    Toledo8217Status,
    status_frame,
    weight_frame,
)

P = Toledo8217()


def parse(data: bytes) -> list[Frame]:
    return Toledo8217Parser().feed(data)


def one(data: bytes) -> Frame:
    frames = parse(data)
    assert len(frames) == 1, frames
    return frames[0]


def test_serial_settings_are_9600_7e1() -> None:
    s = P.settings
    assert (s.baudrate, s.bytesize, s.parity, s.stopbits) == (9600, 7, "E", 1)
    assert str(s) == "9600 7E1"


def test_requests_are_single_letters() -> None:
    assert [P.request(c) for c in Command] == [b"W", b"Z", b"T", b"C"]
    assert not P.continuous


@pytest.mark.parametrize(("data", "grams", "net"), [
    (b"\x0201.234\r", 1234, False),
    (b"\x0200.000\r", 0, False),
    (b"\x0299.999\r", 99_999, False),
    (b"\x0200.512N\r", 512, True),
    (b"\x02 1.234\r", 1234, False),  # a leading space instead of a zero
    (b"\x02 1.234N\r", 1234, True),
])
def test_weight_frames(data: bytes, grams: int, net: bool) -> None:
    frame = one(data)
    assert frame == Frame(FrameKind.READING, Status.OK, grams, net=net, tag="weight")


def test_weight_in_pounds_is_refused_not_converted() -> None:
    frame = one(b"\x02001.25\r")
    assert frame.status is Status.ERROR and frame.weight_g is None


BITS = [
    ("motion", 0x01, Status.MOTION),
    ("over_capacity", 0x02, Status.OVER_CAPACITY),
    ("under_zero", 0x04, Status.UNDER_ZERO),
    ("outside_zero_range", 0x08, Status.ZERO_ERROR),
    ("centre_of_zero", 0x10, Status.OK),
    ("net", 0x20, Status.OK),
]


@pytest.mark.parametrize(("name", "bit", "status"), BITS)
def test_each_status_bit(name: str, bit: int, status: Status) -> None:
    byte = 0x40 | bit
    assert Toledo8217Status.decode(byte) == Toledo8217Status(**{name: True})
    assert Toledo8217Status(**{name: True}).encode() == byte
    frame = one(bytes([0x02, ord("?"), byte, 0x0D]))
    assert frame.kind is FrameKind.READING
    assert frame.status is status
    assert frame.weight_g is None
    assert frame.motion == (name == "motion")
    assert frame.centre_of_zero == (name == "centre_of_zero")
    assert frame.net == (name == "net")


@pytest.mark.parametrize(("char", "status", "motion"), [
    ("@", Status.OK, False), ("A", Status.MOTION, True), ("B", Status.OVER_CAPACITY, False),
    ("D", Status.UNDER_ZERO, False), ("H", Status.ZERO_ERROR, False), ("P", Status.OK, False),
    ("Q", Status.MOTION, True), ("`", Status.OK, False), ("p", Status.OK, False),
    ("C", Status.OVER_CAPACITY, True),  # over capacity outranks motion
    ("E", Status.UNDER_ZERO, True),
    ("\x00", Status.OK, False), ("\x01", Status.MOTION, True),  # scales without bit 6
])
def test_documented_status_characters(char: str, status: Status, motion: bool) -> None:
    frame = one(b"\x02?" + char.encode("latin-1") + b"\r")
    assert (frame.status, frame.motion, frame.weight_g) == (status, motion, None)


def test_all_64_status_combinations_decode_and_round_trip() -> None:
    for bits in range(64):
        decoded = Toledo8217Status.decode(0x40 | bits)
        assert decoded.encode() == 0x40 | bits
        frame = one(bytes([2, 0x3F, 0x40 | bits, 13]))
        assert frame.weight_g is None
        if bits & 0b1111:
            assert frame.status is not Status.OK


@pytest.mark.parametrize("data", [
    b"\x02?\r",  # no status byte
    b"\x02?AB\r",  # two status bytes
    b"\x021.2.34\r",
    b"\x02abcdef\r",
    b"\x02\r",
    b"\x02-0.150\r",  # the 8217 never sends a sign
    b"\x0201.2345\r",  # four decimals
    b"\x02123.456\r",  # beyond the 6-character field
    b"\x021.234\r", b"\x0201.34\r", b"\x0201234\r",  # a byte lost
    b"\x02  1.234\r",  # a byte too many
])
def test_malformed_frames_are_garbled_never_weights(data: bytes) -> None:
    frame = one(data)
    assert frame.kind is FrameKind.GARBLED and frame.weight_g is None and frame.status is Status.ERROR


def test_overlong_frame_is_dropped_then_parser_resyncs() -> None:
    frames = parse(b"\x02" + b"1" * 40 + b"\r\x0201.000\r")
    assert frames[0].kind is FrameKind.GARBLED
    assert frames[-1].weight_g == 1000
    assert [f.weight_g for f in frames if f.weight_g is not None] == [1000]


def test_garbage_and_a_cut_frame_before_a_good_one() -> None:
    frames = parse(b"noise\r\x13\xff\x0201.2\x0200.750\r")
    assert [(f.kind, f.weight_g) for f in frames] == [(FrameKind.READING, 750)]


def test_bytes_split_anywhere_give_the_same_frames() -> None:
    data = b"xx\x0201.234\r\x02?A\r\x0200.500N\r"
    whole = parse(data)
    for cut in range(len(data) + 1):
        parser = Toledo8217Parser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) == whole


def to_8n1(data: bytes) -> bytes:
    """What a 7E1 device's bytes look like to a port opened 8N1: bit 7 is the parity bit."""
    return bytes(b | (0x80 if bin(b).count("1") % 2 else 0) for b in data)


def test_parity_artefacts_never_give_a_weight() -> None:
    # STX (0x02) and CR (0x0D) both have odd bit counts, so whole frames vanish...
    assert [f for f in parse(to_8n1(b"\x0201.234\r\x02?@\r")) if f.weight_g is not None] == []
    # ... and a high-bit byte inside a frame makes it garbled.
    assert one(b"\x0201.\xb334\r").kind is FrameKind.GARBLED
    assert one(b"\x02?\xc1\r").kind is FrameKind.GARBLED


def test_reset_drops_a_partial_frame() -> None:
    parser = Toledo8217Parser()
    assert parser.feed(b"\x0201.2") == []
    parser.reset()
    assert parser.feed(b"34\r") == []


def test_accepted_zero_tare_clear() -> None:
    coz = one(b"\x02?P\r")
    net = one(b"\x02?`\r")
    gross = one(b"\x02?@\r")
    outside = one(b"\x02?H\r")
    assert P.accepted(Command.ZERO, coz) and not P.accepted(Command.ZERO, outside)
    assert not P.accepted(Command.ZERO, gross)
    assert P.accepted(Command.TARE, net) and not P.accepted(Command.TARE, gross)
    assert P.accepted(Command.CLEAR_TARE, gross) and not P.accepted(Command.CLEAR_TARE, net)
    assert not P.accepted(Command.TARE, Frame.garbled("x"))


def test_encoders_round_trip_through_the_parser() -> None:
    assert one(weight_frame(4876)).weight_g == 4876
    assert one(weight_frame(512, net=True)).net
    frame = one(status_frame(Indication(-20)))
    assert frame.status is Status.UNDER_ZERO
    assert one(status_frame(Indication(100_000))).status is Status.OVER_CAPACITY


def test_device_side_answers_like_the_scale() -> None:
    device = P.device()
    model = ScaleModel(division_g=1)
    model.load_g = 1234
    assert device.feed(b"W") == ["W"]
    assert device.respond("W", model) == b"\x0201.234\r"
    model.motion = True
    assert device.respond("W", model) == b"\x02?A\r"
    model.motion = False
    assert one(device.respond("T", model)).net
    assert device.respond("W", model) == b"\x0200.000N\r"
    assert not one(device.respond("Z", model)).centre_of_zero  # no zero in net mode
    assert not one(device.respond("C", model)).net
    model.load_g = 2000  # far outside the zero capture range
    assert one(device.respond("Z", model)).status is Status.ZERO_ERROR
    model.load_g = 20
    assert P.accepted(Command.ZERO, one(device.respond("Z", model)))
    assert device.respond("W", model) == b"\x0200.000\r"
