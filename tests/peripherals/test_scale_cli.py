"""``kiosk scale read`` and ``kiosk scale emulate`` as a person runs them: real processes, a pty."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.peripherals.scale import PROTOCOLS, ScaleSimulator

ROOT = Path(__file__).resolve().parents[2]


def kiosk(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "KIOSK_CONFIG": ""})


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    link = tmp_path / "kiosk-scale"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "scale", "emulate", "--protocol", "toledo8217",
         "--weight", "1.25", "--link", str(link)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)  # the path comes first, then it serves
        yield proc, link
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_read_count_json_against_a_simulated_scale(protocol: str, tmp_path: Path) -> None:
    with ScaleSimulator(protocol, link=tmp_path / "scale", weight_g=512, stream_interval_s=0.03) as sim:
        done = kiosk("scale", "read", "--port", sim.path, "--protocol", protocol, "--count", "2",
                     "--json", "--interval", "0.03", "--timeout", "10")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"weight_kg": 0.512, "weight_g": 512, "stable": True, "status": "ok"}] * 2


def test_emulate_serves_until_interrupted(emulator: tuple[subprocess.Popen[str], Path]) -> None:
    proc, link = emulator
    done = kiosk("scale", "read", "--port", str(link), "--protocol", "toledo8217", "--count", "1",
                 "--json", "--interval", "0.05")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"weight_kg": 1.25, "weight_g": 1250, "stable": True, "status": "ok"}

    assert proc.stdin is not None
    proc.stdin.write("motion on\n")
    proc.stdin.flush()
    done = kiosk("scale", "read", "--port", str(link), "--protocol", "toledo8217", "--count", "1",
                 "--interval", "0.05", "--timeout", "0.5")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "0 of 1 stable readings" in done.stderr and "Traceback" not in done.stderr

    proc.stdin.write("motion off\nover on\n")
    proc.stdin.flush()
    done = kiosk("scale", "read", "--port", str(link), "--protocol", "toledo8217", "--json",
                 "--interval", "0.05", "--timeout", "0.4")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    assert last == {"weight_kg": None, "weight_g": None, "stable": False, "status": "over_capacity"}

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=5) == 0
    assert not link.exists()  # the symlink goes with the emulator


# Error paths and plain output run in-process through the same entry point, to keep tests fast.

def test_plain_output_without_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with ScaleSimulator("sma", link=tmp_path / "scale", weight_g=2000) as sim:
        code = main(["scale", "read", "--port", sim.path, "--protocol", "sma", "--interval", "0.03",
                     "--timeout", "0.4"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines and lines[-1].split() == ["2.000", "kg", "stable", "ok"]


def test_bad_port_is_one_clear_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scale", "read", "--port", str(tmp_path / "no-such-scale"), "--protocol", "mtsics"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert "no-such-scale" in line and "No such file" in line and "--port" in line


def test_unknown_protocol_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["scale", "read", "--port", "/dev/null", "--protocol", "dialog06"])
    assert exit_.value.code == 2
    assert "toledo8217" in capsys.readouterr().err


def test_emulate_will_not_replace_a_real_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    assert main(["scale", "emulate", "--protocol", "cas", "--link", str(target)]) == 2
    assert "precious" in capsys.readouterr().err and target.read_text() == "keep me"


def test_emulate_stdin_commands(tmp_path: Path) -> None:
    from kiosk.commands.scale import _control

    with ScaleSimulator("mtsics", link=tmp_path / "scale") as sim:
        assert _control(sim, "0.75") == ""
        assert sim.model.load_g == 750
        _control(sim, "noise 3")
        _control(sim, "motion on")
        _control(sim, "over on")
        assert (sim.model.noise_g, sim.model.motion, sim.model.overloaded) == (3, True, True)
        _control(sim, "motion off")
        _control(sim, "remove")
        assert (sim.model.motion, sim.model.load_g) == (False, 0)
        _control(sim, "unplug")
        assert not sim.connected and not (tmp_path / "scale").exists()
        _control(sim, "replug")
        assert sim.connected and (tmp_path / "scale").is_symlink()
        assert "unknown command" in _control(sim, "dance")
