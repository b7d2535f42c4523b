"""Core benchmarks for issue 2 (DESIGN 4): scan events through the lane, and `kiosk simulate` wall time.

Run: .venv/bin/python bench/bench_core.py [--scans 10000] [--runs 10]
Prints the numbers; copy them into bench/RESULTS.md with the date.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kiosk.catalog import Catalog, load_demo  # noqa: E402
from kiosk.clock import SimClock  # noqa: E402
from kiosk.db import connect  # noqa: E402
from kiosk.events import Scanned  # noqa: E402
from kiosk.flows import events as ev  # noqa: E402
from kiosk.lane import Lane  # noqa: E402
from kiosk.simulator import simulator_config  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_scans(n: int, basket: int = 30) -> dict[str, float]:
    """n scan events through Lane.handle (flow + effects), baskets of `basket` items paid and
    committed to a file database between them (commit time not counted in the scan numbers)."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "bench.db")
        load_demo(conn)
        config = simulator_config(None, None)
        clock = SimClock()
        lane = Lane(config, conn, clock, demo_staff=True)
        gtins = [item.gtin for item in Catalog(conn).all() if item.gtin and not item.age_min and not item.weighed]
        rng = random.Random(7)
        times: list[float] = []
        for i in range(n):
            text = rng.choice(gtins).lstrip("0")
            clock.advance(0.5)
            t0 = time.perf_counter()
            lane.handle(Scanned(text))
            times.append((time.perf_counter() - t0) * 1000)
            if (i + 1) % basket == 0:
                lane.handle(ev.ChoosePayment("sim"))
                order = lane.flow.state.payment
                lane.handle(ev.PaymentResult(order.order_id, "paid", amount_fen=order.amount.fen))
                lane.handle(ev.ChooseReceipt("none"))
                lane.handle(ev.GiveFeedback(5))
        conn.close()
    return {"events": n, "p50_ms": pct(times, 50), "p99_ms": pct(times, 99), "max_ms": max(times),
            "mean_ms": statistics.fmean(times)}


def write_basket(path: Path, items: int = 30) -> None:
    conn = connect(":memory:")
    load_demo(conn)
    gtins = [item.gtin for item in Catalog(conn).all() if item.gtin and not item.age_min and not item.weighed]
    rng = random.Random(30)
    steps = [f'  - scan: "{rng.choice(gtins)[1:]}"' for _ in range(items)]
    path.write_text("name: 30-item basket\nsteps:\n" + "\n".join(steps) +
                    "\n  - pay: alipay\n  - wallet: paid\n  - receipt: print\n  - feedback: 5\n", encoding="utf-8")


def bench_simulate(runs: int) -> dict[str, float]:
    scenario = ROOT / "bench" / "scenarios" / "basket-30.yaml"
    if not scenario.exists():
        write_basket(scenario)
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "--json", str(scenario)],
                              capture_output=True, text=True, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
        assert proc.returncode == 0 and '"sale.completed"' in proc.stdout, proc.stderr
    return {"runs": runs, "median_s": statistics.median(walls), "max_s": max(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    scans = bench_scans(args.scans)
    print(f"scan events through the core: {scans['events']} events, p50 {scans['p50_ms']:.3f} ms, "
          f"p99 {scans['p99_ms']:.3f} ms, max {scans['max_ms']:.2f} ms, mean {scans['mean_ms']:.3f} ms "
          f"(budget p99 < 2 ms)")
    sim = bench_simulate(args.runs)
    print(f"kiosk simulate, 30-item basket, whole process: median {sim['median_s']:.3f} s, "
          f"max {sim['max_s']:.3f} s over {sim['runs']} runs (budget < 1 s)")


if __name__ == "__main__":
    main()
