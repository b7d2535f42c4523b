"""CAS 22-byte continuous stream: headers, lamp byte, both line forms; bad lines never weigh."""

from __future__ import annotations

import pytest

from kiosk.peripherals.scale.cas import LAMP_GROSS, LAMP_STABLE, LAMP_ZERO, Cas, CasParser, frame
from kiosk.peripherals.scale.reading import Command, Frame, FrameKind, Indication, Status
from kiosk.peripherals.scale.simulator import ScaleModel

P = Cas()
LAMP = bytes([0xA0 | LAMP_STABLE | LAMP_GROSS])


def parse(data: bytes) -> list[Frame]:
    return CasParser().feed(data)


def one(data: bytes) -> Frame:
    frames = parse(data)
    assert len(frames) == 1, frames
    return frames[0]


def line(state: bytes = b"ST", mode: bytes = b"GS", weight: bytes = b"+  4.876", lamp: bytes = LAMP) -> bytes:
    return state + b"," + mode + b",1" + lamp + b"," + weight + b" kg\r\n"


def test_a_frame_is_22_bytes() -> None:
    assert len(line()) == 22
    assert len(frame(Indication(4876))) == 22


def test_settings_continuous_and_no_commands() -> None:
    assert str(P.settings) == "9600 8N1"
    assert P.continuous
    assert all(P.request(c) is None for c in Command)
    assert not any(P.supports(c) for c in Command)


@pytest.mark.parametrize(("data", "status", "grams", "net"), [
    (line(), Status.OK, 4876, False),
    (line(mode=b"NT"), Status.OK, 4876, True),
    (line(weight=b"+  0.000"), Status.OK, 0, False),
    (line(weight=b"  12.345"), Status.OK, 12_345, False),
    (b"ST,GS,+  4.876kg\r\n", Status.OK, 4876, False),  # the short form seen in the wild
    (b"ST,NT,+  0.250kg\n", Status.OK, 250, True),
])
def test_weight_lines(data: bytes, status: Status, grams: int, net: bool) -> None:
    f = one(data)
    assert (f.kind, f.status, f.weight_g, f.net, f.motion) == (FrameKind.READING, status, grams, net, False)


def test_unstable_header_is_motion() -> None:
    f = one(line(state=b"US"))
    assert (f.status, f.motion, f.weight_g) == (Status.MOTION, True, 4876)


def test_overload_has_no_weight_whatever_the_field() -> None:
    for weight in (b"+ 99.999", b"  OL    ", b"\xff\xff\xff\xff\xff\xff\xff\xff"):
        f = one(line(state=b"OL", weight=weight))
        assert (f.status, f.weight_g) == (Status.OVER_CAPACITY, None)


def test_negative_is_under_zero() -> None:
    assert one(line(weight=b"-  0.150")).status is Status.UNDER_ZERO
    assert one(line(weight=b"  -0.150")).status is Status.UNDER_ZERO


def test_pounds_are_refused() -> None:
    assert one(b"ST,GS,+  4.876lb\r\n").status is Status.ERROR


def test_lamp_zero_point_bit() -> None:
    assert one(line(weight=b"+  0.000", lamp=bytes([0xA0 | LAMP_STABLE | LAMP_ZERO]))).centre_of_zero
    assert not one(line()).centre_of_zero


@pytest.mark.parametrize("data", [
    line(weight=b"+  4.8.6"), line(weight=b"+  a.876"), line(weight=b"        "),
    b"ST,GS,1" + LAMP + b",+  4.876 xx\r\n", b"ST,GS,\r\n", b"ST,GS,+4.876kgkg\r\n",
    b"ST,GS,1" + LAMP + b",+  4.876 g\r\n", b"ST,GS,+ 4.876kg\r\n",  # grams; a lost byte
])
def test_malformed_lines_after_a_header_are_garbled(data: bytes) -> None:
    f = one(data)
    assert f.kind is FrameKind.GARBLED and f.weight_g is None


def test_lines_without_a_header_are_skipped() -> None:
    assert parse(b"4.876 kg\r\nhello\r\n\r\n") == []


def to_8n1(data: bytes) -> bytes:
    return bytes(b | (0x80 if bin(b).count("1") % 2 else 0) for b in data)


def test_parity_artefacts_never_give_a_weight() -> None:
    # A 7E1 stream read as 8N1: headers break, so nothing is a weight.
    assert [f for f in parse(to_8n1(b"ST,GS,+  4.876kg\r\n" * 3)) if f.weight_g is not None] == []
    # A high bit in the weight field: garbled. Only the lamp byte may have it.
    assert one(line(weight=b"+  4.\xb776")).kind is FrameKind.GARBLED


def test_first_cut_line_after_open_is_skipped_then_stream_syncs() -> None:
    stream = line()[9:] + line(weight=b"+  1.000") + line(weight=b"+  1.005")
    assert [f.weight_g for f in parse(stream)] == [1000, 1005]


def test_cut_frame_run_into_a_whole_one_keeps_the_whole_one() -> None:
    data = line()[:14] + line(weight=b"+  0.750")
    assert [f.weight_g for f in parse(data)] == [750]


def test_endless_noise_is_bounded_and_resyncs() -> None:
    parser = CasParser()
    assert parser.feed(b"\x00" * 10_000) == []
    assert [f.weight_g for f in parser.feed(line(weight=b"+  0.100"))] == [100]


def test_split_feeding_is_the_same() -> None:
    data = line() + line(state=b"US") + line(state=b"OL") + b"junk\r\n" + line(mode=b"NT")
    whole = parse(data)
    for cut in range(len(data) + 1):
        parser = CasParser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) == whole


def test_encoder_round_trip() -> None:
    assert one(frame(Indication(4876))).weight_g == 4876
    assert one(frame(Indication(4876, net=True))).net
    assert one(frame(Indication(4876, motion=True))).status is Status.MOTION
    assert one(frame(Indication(-150))).status is Status.UNDER_ZERO
    assert one(frame(Indication(99_000, over_capacity=True))).status is Status.OVER_CAPACITY
    assert one(frame(Indication(0, centre_of_zero=True))).centre_of_zero


def test_device_side_only_streams() -> None:
    device = P.device()
    model = ScaleModel()
    model.load_g = 42
    assert device.feed(b"W\r\n") == []
    assert device.respond("W", model) == b""
    assert one(device.stream(model.indication())).weight_g == 42
    assert not P.accepted(Command.ZERO, one(device.stream(model.indication())))
