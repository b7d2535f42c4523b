# Front door: `make run` (the kiosk on simulated devices) and `make test` (every test).
# Both install what they need: Debian packages when run as root, a .venv with the package.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DEBIAN_PACKAGES := python3-venv python3-dev gcc libc6-dev linux-libc-dev libzbar0 mosquitto mosquitto-clients xvfb xauth \
	fonts-noto-cjk libgl1 libegl1 libmtdev1 libsdl2-2.0-0 sqlite3 openssl xclip

.PHONY: setup system-packages run test lint typecheck pytest bench clean

setup: system-packages $(VENV)/.installed

system-packages:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "missing Debian packages; install them with:"; \
		echo "  sudo apt-get install -y $$missing"; \
		[ "$$(id -u)" = 0 ] || exit 0; exit 1; \
	fi

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

run: setup
	$(PY) -m kiosk run --simulate

lint: setup
	$(VENV)/bin/ruff check kiosk fleet tests bench

typecheck: setup
	$(VENV)/bin/mypy kiosk/money.py kiosk/sale.py kiosk/config.py kiosk/flows kiosk/barcodes.py \
		kiosk/catalog.py kiosk/store.py kiosk/outbox.py kiosk/db.py kiosk/scenario.py kiosk/coupons.py \
		kiosk/staff.py kiosk/lane.py kiosk/simulator.py kiosk/control.py kiosk/devices.py kiosk/doctor.py \
		kiosk/logs.py kiosk/peripherals kiosk/telemetry fleet

pytest: setup
	$(PY) -m pytest

test: lint typecheck pytest

bench: setup
	$(PY) bench/bench_core.py
	$(PY) bench/bench_store.py
	$(PY) bench/bench_outbox.py
	$(PY) bench/decode/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
