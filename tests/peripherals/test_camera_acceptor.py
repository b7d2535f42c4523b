"""The acceptance rules, fed with made-up frames and times (pure: no camera, no clock)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.peripherals.camera import Acceptor, Code, admissible, clean_text

BOX = ((100, 100), (300, 100), (300, 160), (100, 160))
ELSEWHERE = ((400, 300), (600, 300), (600, 360), (400, 360))
MILK = Code("ean13", "6901234567892", BOX, "zxing")
MISREAD = Code("ean13", "6901234567885", BOX, "zbar")  # valid check digit, wrong number
BREAD = Code("ean13", "5901234123457", ELSEWHERE, "zxing")
MEMBER_QR = Code("qr", "M13800138000", ELSEWHERE, "zxing")
FPS = 1 / 30


def feed(acceptor: Acceptor, frames: list[list[Code]], start: float = 0.0, step: float = FPS) -> list[str]:
    out = []
    for i, codes in enumerate(frames):
        out += [a.text for a in acceptor.observe(codes, start + i * step)]
    return out


# ------------------------------------------------------------------ consensus


def test_a_1d_code_needs_two_frames():
    acceptor = Acceptor(consensus_frames=2)
    assert feed(acceptor, [[MILK]]) == []
    assert [a.text for a in acceptor.observe([MILK], FPS)] == [MILK.text]


def test_consensus_frames_is_configurable():
    assert feed(Acceptor(consensus_frames=3), [[MILK], [MILK]]) == []
    assert feed(Acceptor(consensus_frames=3), [[MILK], [MILK], [MILK]]) == [MILK.text]
    assert feed(Acceptor(consensus_frames=1), [[MILK]]) == [MILK.text]


def test_a_misread_in_one_frame_is_never_accepted():
    acceptor = Acceptor()
    frames = [[MILK], [MISREAD], [MILK], [MILK], [], [MISREAD], [], [], [MILK]]
    assert feed(acceptor, frames) == [MILK.text]


def test_after_a_misread_the_true_value_must_lead_it_by_the_consensus():
    acceptor = Acceptor()
    # frame 1 reads the wrong number: the right one needs 2 more reads than it, not just 2
    assert feed(acceptor, [[MISREAD], [MILK], [MILK]]) == []
    assert [a.text for a in acceptor.observe([MILK], 3 * FPS)] == [MILK.text]


def test_a_misread_that_repeats_at_the_same_place_is_not_accepted():
    acceptor = Acceptor(consensus_frames=2)
    # wrong, right, wrong: the wrong value has its two reads, but not a lead of two
    frames = [[MISREAD], [MILK], [MISREAD], [MILK], [MILK], [MILK]]
    assert feed(acceptor, frames) == [MILK.text]


def test_a_repeating_misread_elsewhere_does_not_hold_up_another_code():
    acceptor = Acceptor()
    assert feed(acceptor, [[MISREAD, BREAD], [BREAD]]) == [BREAD.text]


def test_a_misread_after_the_true_value_was_added_stays_out():
    acceptor = Acceptor()
    frames = [[MILK]] * 5 + [[MISREAD], [MILK], [MISREAD], [MILK], [MISREAD], [MISREAD], [MILK]]
    assert feed(acceptor, frames) == [MILK.text]


def test_a_pack_swapped_for_another_at_the_same_spot_is_added():
    swapped = Code("ean13", "5901234123457", BOX, "zxing")
    frames = [[MILK]] * 10 + [[swapped]] * 30  # same place, no gap
    assert feed(Acceptor(), frames) == [MILK.text, swapped.text]


def test_reads_too_far_apart_do_not_add_up():
    acceptor = Acceptor(consensus_frames=2, consensus_window_s=0.5)
    assert feed(acceptor, [[MISREAD], [MISREAD]], step=2.0) == []


def test_a_qr_code_is_accepted_on_one_read():
    assert feed(Acceptor(consensus_frames=3), [[MEMBER_QR]]) == [MEMBER_QR.text]


def test_two_codes_in_one_frame_are_both_accepted():
    assert sorted(feed(Acceptor(), [[MILK, BREAD], [BREAD, MILK]])) == sorted([MILK.text, BREAD.text])


def test_the_accepted_scan_keeps_the_frame_times():
    acceptor = Acceptor()
    acceptor.observe([MILK], 10.0)
    (accepted,) = acceptor.observe([MILK], 10.04)
    assert (accepted.first_ts, accepted.frame_ts, accepted.symbology) == (10.0, 10.04, "ean13")


# ------------------------------------------------------------------ duplicates and re-scans


def test_a_code_staying_in_view_is_added_once():
    acceptor = Acceptor(rescan_gap_s=1.0)
    frames = [[MILK]] * 300  # ten seconds in view
    assert feed(acceptor, frames) == [MILK.text]


def test_short_gaps_in_reading_do_not_re_add():
    acceptor = Acceptor(rescan_gap_s=1.0)
    frames = ([[MILK]] * 10 + [[]] * 20) * 5  # unreadable for 0.67 s at a time (motion blur)
    assert feed(acceptor, frames) == [MILK.text]


def test_a_deliberate_rescan_after_leaving_view_adds_again():
    acceptor = Acceptor(rescan_gap_s=1.0)
    frames = [[MILK]] * 10 + [[]] * 40 + [[MILK]] * 10  # gone for 1.33 s, then shown again
    assert feed(acceptor, frames) == [MILK.text, MILK.text]


def test_the_rescan_gap_is_configurable():
    frames = [[MILK]] * 5 + [[]] * 12 + [[MILK]] * 5  # gone for 0.4 s
    assert feed(Acceptor(rescan_gap_s=1.0), frames) == [MILK.text]
    assert feed(Acceptor(rescan_gap_s=0.2), frames) == [MILK.text, MILK.text]


def test_a_qr_code_held_up_is_not_re_added():
    assert feed(Acceptor(), [[MEMBER_QR]] * 90) == [MEMBER_QR.text]


def test_a_qr_code_re_added_needs_the_full_consensus():
    # a QR at the frame edge, read once every 1.1 s while the pack lies there: one add
    edge_qr = Code("qr", "https://id.gs1.org/01/09501101531000", ((600, 200), (640, 200), (640, 240), (600, 240)))
    assert feed(Acceptor(rescan_gap_s=1.0), [[edge_qr]] * 4, step=1.1) == [edge_qr.text]
    # shown again after leaving view: two reads (consensus_frames) within the window add it again
    acceptor = Acceptor(rescan_gap_s=1.0, consensus_frames=3)
    assert feed(acceptor, [[MEMBER_QR]]) == [MEMBER_QR.text]  # the first time, on one read
    assert feed(acceptor, [[MEMBER_QR], [MEMBER_QR]], start=2.0) == []
    assert feed(acceptor, [[MEMBER_QR]], start=2.2) == [MEMBER_QR.text]
    # a new session (reset()) starts afresh: one read again
    acceptor.reset()
    assert feed(acceptor, [[MEMBER_QR]], start=5.0) == [MEMBER_QR.text]


def test_a_qr_code_shown_again_after_leaving_view_adds_again():
    frames = [[MEMBER_QR]] * 10 + [[]] * 40 + [[MEMBER_QR]] * 10
    assert feed(Acceptor(rescan_gap_s=1.0), frames) == [MEMBER_QR.text, MEMBER_QR.text]


def observe_all(acceptor: Acceptor, frames: list[tuple[list[Code], list]], step: float = FPS) -> list[str]:
    out = []
    for i, (codes, regions) in enumerate(frames):
        out += [a.text for a in acceptor.observe(codes, i * step, regions)]
    return out


GLARE = [(150, 140), (250, 140), (250, 170), (150, 170)]  # an unread bar region over part of BOX


def test_an_unread_region_over_the_code_keeps_it_in_view():
    # a can whose code is lost in glare for 1.33 s while it stays put: added once
    frames = [([MILK], [])] * 10 + [([], [GLARE])] * 40 + [([MILK], [])] * 10
    assert observe_all(Acceptor(rescan_gap_s=1.0, region_hold_s=10.0), frames) == [MILK.text]
    # an EAN read in pairs every 1.2 s, its region found in between
    frames = ([([MILK], [])] * 2 + [([], [GLARE])] * 34) * 3
    assert observe_all(Acceptor(rescan_gap_s=1.0, region_hold_s=10.0), frames) == [MILK.text]
    # off by default: regions alone do not hold a code
    assert observe_all(Acceptor(rescan_gap_s=1.0), frames) == [MILK.text] * 3


def test_a_region_elsewhere_or_gone_does_not_hold_the_code():
    far = [(500, 400), (560, 400), (560, 430), (500, 430)]
    frames = [([MILK], [])] * 10 + [([], [far])] * 40 + [([MILK], [])] * 10
    assert observe_all(Acceptor(rescan_gap_s=1.0), frames) == [MILK.text, MILK.text]
    # taken away: the region goes with it, and after the gap a re-scan adds again
    frames = [([MILK], [])] * 10 + [([], [GLARE])] * 10 + [([], [])] * 40 + [([MILK], [])] * 10
    assert observe_all(Acceptor(rescan_gap_s=1.0), frames) == [MILK.text, MILK.text]


def test_regions_alone_hold_a_code_for_region_hold_s_at_most():
    # a striped pattern lying where the pack was read must not block re-scans there for good
    frames = [([MILK], [])] * 2 + [([], [GLARE])] * 20 + [([MILK], [])] * 2
    assert observe_all(Acceptor(rescan_gap_s=0.2, region_hold_s=0.5), frames, step=0.1) == [MILK.text] * 2
    assert observe_all(Acceptor(rescan_gap_s=0.2, region_hold_s=5.0), frames, step=0.1) == [MILK.text]


def test_a_region_does_not_make_the_old_pack_a_rival_of_a_new_one():
    swapped = Code("ean13", "5901234123457", BOX, "zxing")
    frames = [([MILK], [])] * 10 + [([], [GLARE])] * 20 + [([swapped], [GLARE])] * 5
    assert observe_all(Acceptor(), frames) == [MILK.text, swapped.text]


def test_a_frame_time_running_backwards_never_re_adds():
    acceptor = Acceptor(rescan_gap_s=1.0)
    feed(acceptor, [[MILK], [MILK]], start=100.0)
    assert feed(acceptor, [[MILK]] * 5, start=50.0) == []


def test_reset_forgets_what_was_in_view():
    acceptor = Acceptor()
    feed(acceptor, [[MILK], [MILK]])
    acceptor.reset()
    assert feed(acceptor, [[MILK], [MILK]], start=1.0) == [MILK.text]


# ------------------------------------------------------------------ bad input never becomes an item


def bad(text: str, symbology: str = "qr", binary: bool = False) -> Code:
    return Code(symbology, text, ELSEWHERE, "zxing", binary)


def test_bad_payloads_are_never_accepted():
    acceptor = Acceptor(consensus_frames=1)
    payloads = [
        bad("00fffe01", binary=True),  # binary QR
        bad("M1380013800\x1b[2J"),  # terminal escape
        bad("6901234567892\x00", "ean13"),  # NUL
        bad("6901234567892\r\n", "code128"),
        bad("\u0085M13800138000"),  # C1 control
        bad("M" + "1" * 600),  # absurdly long
        bad("x" * 100_000),
        bad(""),
        bad("https://qr.alipay.com/bax01234"),  # a payment URL: not an item here
        bad("\ufffd\ufffd"),
        Code("ean13", "6901234567893", BOX, "zbar"),  # bad check digit
        Code("gs1-128", "(01)09501101531001", BOX, "zxing"),  # bad GTIN check inside GS1
    ]
    for _ in range(3):
        assert acceptor.observe(payloads, 0.0) == []
    assert acceptor.rejected == 3 * len(payloads)  # every one, every time


def test_gs_is_the_one_control_character_allowed():
    assert clean_text("0109501101531000\x1d10AB") == "0109501101531000\x1d10AB"
    assert admissible(Code("gs1-128", "(01)09501101531000(10)AB", BOX, "zxing"))
    assert clean_text("M138\x07") is None


def test_codes_the_kiosk_acts_on_are_admissible():
    for code in [MILK, MEMBER_QR, Code("qr", "KR1:ABCDEFGHJK23", BOX), Code("code128", "C-FULL100-10", BOX),
                 Code("databar-exp", "(01)09501101531000(3103)000123", BOX),
                 Code("qr", "https://id.gs1.org/01/09501101531000", BOX)]:
        assert admissible(code), code


# ------------------------------------------------------------------ properties


codes = st.sampled_from([MILK, MISREAD, BREAD, MEMBER_QR])
frames = st.lists(st.lists(codes, max_size=3), max_size=60)


@settings(max_examples=200, deadline=None)
@given(frames, st.integers(min_value=1, max_value=4))
def test_a_1d_value_is_accepted_only_after_enough_frames(frames, needed):
    acceptor = Acceptor(consensus_frames=needed)
    seen: dict[str, int] = {}
    for i, frame in enumerate(frames):
        for code in {c.text: c for c in frame}.values():
            seen[code.text] = seen.get(code.text, 0) + 1
        for accepted in acceptor.observe(frame, i * FPS):
            if accepted.symbology != "qr":
                assert seen[accepted.text] >= needed


@settings(max_examples=200, deadline=None)
@given(frames)
def test_never_two_adds_without_a_gap(frames):
    acceptor = Acceptor(rescan_gap_s=1.0)
    reads: dict[str, list[float]] = {}
    added: set[str] = set()
    for i, frame in enumerate(frames):
        ts = i * FPS
        for code in frame:
            reads.setdefault(code.text, []).append(ts)
        for accepted in acceptor.observe(frame, ts):
            if accepted.text in added:  # added before: it must have been out of view > 1 s
                before = [t for t in reads[accepted.text] if t < accepted.first_ts]
                assert accepted.first_ts - max(before) > 1.0
            added.add(accepted.text)


# ------------------------------------------------------------------ one product, several symbols

LEFT = ((50, 100), (230, 100), (230, 190), (50, 190))
RIGHT = ((350, 100), (530, 100), (530, 190), (350, 190))
PACK_EAN = Code("ean13", "9501101531000", LEFT, "zxing")
PACK_QR = Code("qr", "https://id.gs1.org/01/09501101531000", RIGHT, "zxing")
PACK_DATABAR = Code("databar", "(01)09501101531000", RIGHT, "zxing")
PACK_WEIGHED = Code("databar-expanded", "(01)09501101531000(3103)000500", RIGHT, "zxing")


def test_an_ean13_and_a_digital_link_qr_of_one_pack_are_one_scan():
    acceptor = Acceptor()
    out = feed(acceptor, [[PACK_EAN, PACK_QR]] * 10)
    assert len(out) == 1
    assert acceptor.is_accepted(PACK_EAN) and acceptor.is_accepted(PACK_QR)


def test_an_ean13_and_a_databar_of_one_pack_are_one_scan():
    assert len(feed(Acceptor(), [[PACK_EAN, PACK_DATABAR]] * 10)) == 1
    # the two symbols read in alternate frames are still one product
    assert len(feed(Acceptor(), [[PACK_EAN], [PACK_DATABAR]] * 10)) == 1


def test_the_symbol_carrying_a_weight_is_the_one_accepted():
    acceptor = Acceptor()
    assert feed(acceptor, [[PACK_EAN, PACK_WEIGHED]] * 10) == [PACK_WEIGHED.text]
    assert feed(Acceptor(), [[PACK_WEIGHED, PACK_EAN]] * 10) == [PACK_WEIGHED.text]
    # read first alone, the plain EAN does not displace the weight read since
    assert feed(Acceptor(), [[PACK_WEIGHED], [PACK_EAN], [PACK_EAN]]) == [PACK_WEIGHED.text]


def test_two_different_products_in_view_are_still_two_scans():
    assert sorted(feed(Acceptor(), [[PACK_EAN, BREAD]] * 5)) == sorted([PACK_EAN.text, BREAD.text])


# ------------------------------------------------------------------ a camera gap


def test_a_gap_keeps_accepted_codes_locked_and_drops_unaccepted_evidence():
    acceptor = Acceptor(rescan_gap_s=1.0)
    assert feed(acceptor, [[PACK_EAN]] * 3) == [PACK_EAN.text]
    assert feed(acceptor, [[MISREAD]]) == []  # one read of something else, not yet accepted
    acceptor.reset(5.0)  # the camera came back 5 s later, well past rescan_gap_s
    assert feed(acceptor, [[PACK_EAN]] * 5, start=5.0) == []
    assert acceptor.in_view == [PACK_EAN.text]
    # reset() without a time forgets everything (a new session)
    acceptor.reset()
    assert feed(acceptor, [[PACK_EAN]] * 2, start=10.0) == [PACK_EAN.text]


def test_after_a_gap_a_product_gone_for_the_rescan_gap_adds_again():
    acceptor = Acceptor(rescan_gap_s=1.0)
    assert feed(acceptor, [[PACK_EAN]] * 3) == [PACK_EAN.text]
    acceptor.reset(5.0)
    assert feed(acceptor, [[]], start=5.0) == []
    assert feed(acceptor, [[PACK_EAN]] * 2, start=6.5) == [PACK_EAN.text]
