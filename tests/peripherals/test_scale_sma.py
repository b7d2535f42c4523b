"""SMA SCP-0499 level 1: the standard response field by field; bad frames never weigh."""

from __future__ import annotations

import pytest

from kiosk.peripherals.scale.reading import Command, Frame, FrameKind, Indication, Status
from kiosk.peripherals.scale.simulator import ScaleModel
from kiosk.peripherals.scale.sma import Sma, SmaParser, response

P = Sma()


def parse(data: bytes) -> list[Frame]:
    return SmaParser().feed(data)


def one(data: bytes) -> Frame:
    frames = parse(data)
    assert len(frames) == 1, frames
    return frames[0]


def std(s: str = " ", n: str = "G", m: str = " ", weight: str = "0.512", unit: str = "kg ") -> bytes:
    return f"\n{s}1{n}{m} {weight:>10}{unit}\r".encode("latin-1")


def test_settings_and_requests() -> None:
    assert str(P.settings) == "9600 8N1"
    assert P.request(Command.WEIGH) == b"\nW\r"
    assert P.request(Command.ZERO) == b"\nZ\r"
    assert P.request(Command.TARE) == b"\nT\r"
    assert P.request(Command.CLEAR_TARE) == b"\nC\r"


def test_the_manuals_example_in_pounds_is_refused() -> None:
    frame = one(b"\n" + b" 1G  " + b"     5.025" + b"lb " + b"\r")
    assert frame.status is Status.ERROR and frame.weight_g is None


@pytest.mark.parametrize(("data", "grams"), [
    (std(weight="0.512"), 512), (std(weight="12.000"), 12_000), (std(weight="0.000"), 0),
    (std(weight="512", unit="g  "), 512), (std(weight="0.0125"), 12),  # 12.5 g -> half-even
])
def test_stable_gross_weights(data: bytes, grams: int) -> None:
    frame = one(data)
    assert (frame.kind, frame.status, frame.weight_g, frame.motion, frame.net) == (
        FrameKind.READING, Status.OK, grams, False, False)


def test_net_and_high_resolution_fields() -> None:
    assert one(std(n="N")).net
    assert one(std(n="n")).net
    assert not one(std(n="g")).net


def test_motion_keeps_the_weight_but_is_not_ok() -> None:
    frame = one(std(m="M"))
    assert (frame.status, frame.weight_g, frame.motion) == (Status.MOTION, 512, True)


@pytest.mark.parametrize(("s", "status"), [
    ("O", Status.OVER_CAPACITY), ("U", Status.UNDER_ZERO), ("E", Status.ZERO_ERROR),
    ("I", Status.ZERO_ERROR), ("T", Status.ERROR),
])
def test_each_error_status_gives_no_weight(s: str, status: Status) -> None:
    for weight in ("0.512", "-" * 10):
        frame = one(std(s=s, weight=weight))
        assert (frame.status, frame.weight_g) == (status, None)


def test_centre_of_zero() -> None:
    frame = one(std(s="Z", weight="0.000"))
    assert frame.centre_of_zero and frame.weight_g == 0 and frame.status is Status.OK


def test_negative_weight_without_u_status_is_still_under_zero() -> None:
    assert one(std(weight="-0.020")).status is Status.UNDER_ZERO


def test_dashes_are_never_a_weight() -> None:
    assert one(std(weight="-" * 10)).status is Status.ERROR
    assert one(std(m="M", weight="-" * 10)).status is Status.MOTION


def test_unknown_command_reply_is_rejected() -> None:
    assert one(b"\n?\r").kind is FrameKind.REJECTED


def test_tare_report_is_not_a_platter_weight() -> None:
    frame = one(std(n="T", weight="0.100"))
    assert frame.kind is FrameKind.ACK and frame.weight_g is None


def test_about_and_info_lines_are_skipped() -> None:
    assert parse(b"\nSMA:2/1.0\r\nMFG:ACME\r\nCAP:kg:15:0.005:3\r") == []


@pytest.mark.parametrize("data", [
    b"\n 1G  0.512kg \r",  # short
    std()[:-1] + b"  \r",  # long
    std(s="X"), std(n="Q"), std(m="m"), std(weight="0.5.12"), std(weight="abc"),
    std(weight="0.512", unit="kgs"), std().replace(b"1G", b"xG"),
    b"\n 1G   \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00kg \r",
])
def test_malformed_responses_are_garbled(data: bytes) -> None:
    frame = one(data)
    assert frame.kind is FrameKind.GARBLED and frame.weight_g is None


def test_parity_artefacts_never_give_a_weight() -> None:
    data = bytearray(std(weight="0.512"))
    data[12] |= 0x80
    assert one(bytes(data)).kind is FrameKind.GARBLED


def test_resync_after_garbage_and_cut_frames() -> None:
    data = b"\xff\xfe\r" + std(weight="1.0")[:9] + std(weight="0.250") + b"junk" + std(weight="0.300")
    assert [f.weight_g for f in parse(data)] == [250, 300]


def test_overlong_line_is_garbled_and_resyncs() -> None:
    frames = parse(b"\n" + b"9" * 80 + std(weight="0.100"))
    assert frames[0].kind is FrameKind.GARBLED and frames[-1].weight_g == 100


def test_split_feeding_is_the_same() -> None:
    data = std(weight="0.512") + std(m="M") + b"\n?\r" + std(s="O")
    whole = parse(data)
    for cut in range(len(data) + 1):
        parser = SmaParser()
        assert parser.feed(data[:cut]) + parser.feed(data[cut:]) == whole


def test_accepted() -> None:
    assert P.accepted(Command.ZERO, one(std(s="Z", weight="0.000")))
    assert not P.accepted(Command.ZERO, one(std(s="E", weight="-" * 10)))
    assert P.accepted(Command.TARE, one(std(n="N", weight="0.000")))
    assert not P.accepted(Command.TARE, one(std(s="T", weight="-" * 10)))
    assert P.accepted(Command.CLEAR_TARE, one(std()))
    assert not P.accepted(Command.ZERO, one(b"\n?\r"))


def test_encoder_round_trip() -> None:
    assert one(response(Indication(4876))).weight_g == 4876
    assert one(response(Indication(0, centre_of_zero=True))).centre_of_zero
    assert one(response(Indication(-30))).status is Status.UNDER_ZERO
    assert one(response(Indication(20_000, over_capacity=True))).status is Status.OVER_CAPACITY
    assert one(response(Indication(100, motion=True))).status is Status.MOTION


def test_device_side() -> None:
    device = P.device()
    model = ScaleModel()
    model.load_g = 300
    assert device.feed(b"\nW\r\nZ\x1b\r\nQQ\r") == ["W", "QQ"]  # ESC aborts the zero
    assert one(device.respond("W", model)).weight_g == 300
    assert device.respond("QQ", model) == b"\n?\r"
    assert P.accepted(Command.TARE, one(device.respond("T", model)))
    assert one(device.respond("M", model)).kind is FrameKind.ACK
    assert one(device.respond("Z", model)).status is Status.ZERO_ERROR  # refused in net mode
    assert P.accepted(Command.CLEAR_TARE, one(device.respond("C", model)))
