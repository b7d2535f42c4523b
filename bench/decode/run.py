"""Camera decoding benchmark: the libraries alone, combined, and the kiosk pipeline.

    python -m bench.decode.evalset --seed 1 --count 800 --out bench/out/decode/set \\
        --video bench/out/decode/stream.avi --shoppers 40
    python -m bench.decode.run --set bench/out/decode/set --video bench/out/decode/stream.avi

Still frames (every method gets the same BGR 640x480 frame, converts it to gray inside its timed
call, and its codes go through the same normalisation, ``kiosk.peripherals.camera.engines``):

- ``pyzbar``: zbar through pyzbar's binding, its default scan density, retail formats;
- ``zxing-cpp``: ``read_barcodes`` with the library's defaults (rotate, downscale, invert), retail formats;
- ``both``: the union of the two, no extra passes;
- ``kiosk``: ``Decoder()``, the pipeline the camera and ``kiosk decode`` use;
- with ``--ablations``, the kiosk pipeline without each of its stages.

Reported: codes read per format, wrong reads (a value not in the frame, on frames with codes),
false reads (anything on frames without a code), and decode time per frame (median and p95 of
the per-frame best of ``--repeat`` runs, so other work on a shared machine inflates it less).

Live stream: the video is played at its frame rate through the real ``CameraScanner`` (capture
thread, decode thread with newest-frame semantics, consensus rule) and every ``Scanned`` is
checked against the truth: passes scanned, duplicates, wrong GTINs, and the latency from the
capture of the frame that completed the consensus to the event, and from the first frame with
the whole code in view to the event.
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.peripherals.camera.decoder import Decoder, Pipeline, to_gray
from kiosk.peripherals.camera.engines import EAN_UPC, Code, ZbarEngine, ZxingEngine
from kiosk.peripherals.camera.regions import RegionSettings

FORMAT_ORDER = ["ean13", "ean8", "upca", "upce", "code128", "gs1-128", "databar", "databar-exp", "qr"]


def key(code: Code) -> str:
    return code.text.rjust(14, "0") if code.symbology in EAN_UPC else code.text


def methods(ablations: bool) -> dict[str, Callable[[np.ndarray], list[Code]]]:
    zbar = ZbarEngine(density=1)
    zxing = ZxingEngine(rotate=True, downscale=True, invert=True)

    def union(frame: np.ndarray) -> list[Code]:
        gray = to_gray(frame)
        return zbar.scan(gray) + zxing.scan(gray)

    out: dict[str, Callable[[np.ndarray], list[Code]]] = {
        "pyzbar": lambda f: zbar.scan(to_gray(f)),
        "zxing-cpp": lambda f: zxing.scan(to_gray(f)),
        "both": union,
        "kiosk": Decoder().decode,
    }
    if ablations:
        hard = Pipeline().hard_steps
        out["kiosk - region crops"] = Decoder(Pipeline(regions=False)).decode
        out["kiosk - hard steps"] = Decoder(Pipeline(hard_steps=())).decode
        out["kiosk - zbar (hard steps)"] = Decoder(Pipeline(hard_steps=tuple(h for h in hard if h[2] != "zbar"))).decode
        out["kiosk - QR patches"] = Decoder(Pipeline(region_settings=RegionSettings(max_matrix=0))).decode
        out["kiosk - zbar quality rule"] = Decoder(Pipeline(min_zbar_quality=1)).decode
        out["kiosk + zbar first on crops"] = Decoder(Pipeline(region_zbar=True)).decode
        out["kiosk + zxing rotate/downscale"] = Decoder(Pipeline(full_zxing_rotate=True,
                                                                 full_zxing_downscale=True)).decode
        out["kiosk + zbar full frame"] = Decoder(Pipeline(full_zbar=True)).decode
    return out


def still_frames(set_dir: Path, repeat: int, ablations: bool) -> dict[str, Any]:
    manifest = json.loads((set_dir / "manifest.json").read_text())
    frames = [(e, cv2.imread(str(set_dir / e["file"]), cv2.IMREAD_COLOR)) for e in manifest["files"]]
    results: dict[str, Any] = {}
    for name, decode in methods(ablations).items():
        hit: collections.Counter[str] = collections.Counter()
        total: collections.Counter[str] = collections.Counter()
        tag_hit: collections.Counter[str] = collections.Counter()
        tag_total: collections.Counter[str] = collections.Counter()
        wrong = false = 0
        times = []
        for entry, frame in frames:
            best = float("inf")
            for _ in range(repeat):
                start = time.perf_counter()
                codes = decode(frame)
                best = min(best, (time.perf_counter() - start) * 1000)
            times.append(best)
            got = {key(c) for c in codes}
            truth = {c["key"] for c in entry["codes"]}
            if truth:
                wrong += len(got - truth)
            else:
                false += len(got)
            for c in entry["codes"]:
                total[c["format"]] += 1
                ok = c["key"] in got
                hit[c["format"]] += ok
                for tag in entry["tags"]:
                    tag_total[tag] += 1
                    tag_hit[tag] += ok
        ms = np.array(times)
        results[name] = {
            "read": sum(hit.values()), "codes": sum(total.values()),
            "per_format": {f: [hit[f], total[f]] for f in FORMAT_ORDER if total[f]},
            "per_tag": {t: [tag_hit[t], tag_total[t]] for t in sorted(tag_total)},
            "wrong": wrong, "false": false,
            "frames": len(frames), "no_code_frames": sum(1 for e, _ in frames if not e["codes"]),
            "median_ms": round(float(np.median(ms)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 1),
        }
        print(f"  {name}: {results[name]['read']}/{results[name]['codes']} read, "
              f"median {results[name]['median_ms']} ms", flush=True)
    return results


def live_stream(video: Path) -> dict[str, Any]:
    from kiosk.events import Scanned
    from kiosk.peripherals.camera import CameraScanner, OpenCVSource

    truth = json.loads(video.with_suffix(".json").read_text())
    slides = truth["slides"]  # every time a pack passes under the camera: one scan expected
    fps = truth["fps"]
    posted: list[tuple[Scanned, float]] = []
    decisions: list[tuple[str, int, float, float]] = []  # text, frame seq, frame ts, first read ts
    lock = threading.Lock()
    done = threading.Event()

    def post(event: object) -> None:
        if isinstance(event, Scanned):
            with lock:
                posted.append((event, time.monotonic()))
        elif getattr(event, "reason", "") == "ended":
            done.set()

    def on_decoded(decoded: Any) -> None:
        with lock:
            for item in decoded.accepted:
                decisions.append((item.text, decoded.frame.seq, decoded.frame.ts, item.first_ts))

    capture_ts: dict[int, float] = {}
    scanner = CameraScanner(OpenCVSource(str(video), pace=True), post, on_decoded=on_decoded)
    scanner.capture.on_frame = lambda frame: capture_ts.__setitem__(frame.seq, frame.ts)
    scanner.start()
    while not done.wait(0.2) and not scanner.capture.ended:
        pass
    time.sleep(0.3)  # let the decode thread finish the last frame
    health = scanner.health()
    scanner.close()

    fired: collections.Counter[int] = collections.Counter()
    wrong = []
    duplicates = 0
    consensus_latency, read_latency, first_latency = [], [], []
    for (event, t_post), (text, seq, ts, first_read) in zip(posted, decisions, strict=False):
        k = text.rjust(14, "0") if event.symbology in EAN_UPC else text
        index = seq - 1  # frames are numbered from 0 in the truth, from 1 by the capture
        slide = next((i for i, s in enumerate(slides)
                      if s["key"] == k and s["start"] <= index <= s["end"] + fps), None)
        if slide is None:
            wrong.append(k)
            continue
        if fired[slide]:
            duplicates += 1
            continue
        fired[slide] += 1
        consensus_latency.append((t_post - ts) * 1000)
        read_latency.append((t_post - first_read) * 1000)
        first_seq = slides[slide]["first_full"] + 1
        if first_seq in capture_ts:
            first_latency.append((t_post - capture_ts[first_seq]) * 1000)
    return {
        "frames": truth["frames"], "fps": fps, "passes": len(truth["passes"]), "slides": len(slides),
        "scanned": len(fired), "duplicates": duplicates,
        "wrong_gtin": len(wrong), "wrong_values": wrong[:10],
        "missed": [f"{s['format']} {'+'.join(s['tags'])} ({s['last_full'] - s['first_full'] + 1} frames in view)"
                   for i, s in enumerate(slides) if not fired[i]],
        "held_long": sum(1 for s in slides if s["last_full"] - s["first_full"] > 2 * fps),
        "frames_decoded": health["frames_decoded"], "frames_skipped": health["frames_skipped"],
        "consensus_to_event_ms": _spread(consensus_latency),
        "first_read_to_event_ms": _spread(read_latency),
        "first_in_view_to_event_ms": _spread(first_latency),
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "median": None, "p95": None, "max": None}
    a = np.array(values)
    return {"n": len(values), "median": round(float(np.median(a)), 1), "p95": round(float(np.percentile(a, 95)), 1),
            "max": round(float(a.max()), 1)}


def report(still: dict[str, Any], stream: dict[str, Any] | None) -> str:
    lines = []
    names = list(still)
    first = still[names[0]]
    lines.append(f"Still frames: {first['frames']} frames 640x480, {first['codes']} codes, "
                 f"{first['no_code_frames']} frames without a code.\n")
    lines.append("| method | read | " + " | ".join(f for f in FORMAT_ORDER if f in first["per_format"])
                 + " | wrong reads | false reads | median ms | p95 ms |")
    lines.append("|---|---|" + "---|" * (len(first["per_format"]) + 4))
    for name in names:
        r = still[name]
        cells = [f"{r['per_format'][f][0]}/{r['per_format'][f][1]}" for f in FORMAT_ORDER if f in r["per_format"]]
        lines.append(f"| {name} | **{r['read']}/{r['codes']}** ({100 * r['read'] / r['codes']:.1f}%) | "
                     + " | ".join(cells) + f" | {r['wrong']} | {r['false']} | {r['median_ms']} | {r['p95_ms']} |")
    tags = list(first["per_tag"])
    lines.append("\nRead rate by condition (a frame can have two):\n")
    lines.append("| method | " + " | ".join(tags) + " |")
    lines.append("|---|" + "---|" * len(tags))
    for name in names:
        r = still[name]
        lines.append(f"| {name} | " + " | ".join(f"{r['per_tag'][t][0]}/{r['per_tag'][t][1]}" for t in tags) + " |")
    if stream:
        s = stream
        lines.append(f"\nLive stream: {s['frames']} frames at {s['fps']} fps: {s['passes']} products, "
                     f"{s['slides']} times one passes under the camera ({s['held_long']} held still for more "
                     f"than 2 s), played in real time through CameraScanner.\n")
        lines.append("| scanned | duplicates | wrong GTIN accepted | frames decoded / skipped |")
        lines.append("|---|---|---|---|")
        lines.append(f"| {s['scanned']}/{s['slides']} | {s['duplicates']} | {s['wrong_gtin']} | "
                     f"{s['frames_decoded']} / {s['frames_skipped']} |")
        lines.append("\nLatency to the Scanned event, ms, from the capture of ... (median / p95 / max):\n")
        lines.append("| the frame that completed the consensus | the first frame the code was read in | "
                     "the first frame with the whole code in view |")
        lines.append("|---|---|---|")
        lines.append(" | ".join(["", *(f"{x['median']} / {x['p95']} / {x['max']}" for x in (
            s["consensus_to_event_ms"], s["first_read_to_event_ms"], s["first_in_view_to_event_ms"])), ""]).strip())
        if s["missed"]:
            lines.append("\nNot scanned: " + "; ".join(s["missed"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=Path("bench/out/decode/set"))
    parser.add_argument("--video", type=Path, help="stream video from evalset --video (with its .json)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per frame; the best time counts")
    parser.add_argument("--ablations", action="store_true", help="also the pipeline without each stage")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    parser.add_argument("--stream-only", action="store_true",
                        help="rerun only the live stream; still-frame numbers come from --json")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cpus={__import__('os').cpu_count()} "
          f"opencv={cv2.__version__}", flush=True)
    if args.stream_only:
        if not (args.json and args.json.exists() and args.video):
            parser.error("--stream-only needs --video and an earlier --json file to update")
        still = json.loads(args.json.read_text())["still"]
    else:
        still = still_frames(args.set, args.repeat, args.ablations)
    stream = live_stream(args.video) if args.video else None
    print(report(still, stream))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"still": still, "stream": stream}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
