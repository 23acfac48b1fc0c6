# Commune Radio. `make test` works on a fresh Debian 12 / Raspberry Pi OS machine:
# it installs the Debian packages the tests use, builds .venv from pyproject.toml and runs
# lint, type checks and the test suite (the tests start their own Mosquitto brokers).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := libportaudio2 libsndfile1 alsa-utils mosquitto mosquitto-clients espeak-ng \
	sox libsox-fmt-mp3 lame mpg123 poppler-utils fonts-dejavu-core faketime systemd \
	pulseaudio pulseaudio-utils libasound2-plugins python3-venv ca-certificates openssl shellcheck strace \
	chromium chromium-driver
APT_PACKAGES += postgresql
APT_PACKAGES += libmosquitto1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export ALSA_CONFIG_PATH := /usr/share/alsa/alsa.conf:$(CURDIR)/tests/asound-test.conf

.PHONY: test deps venv lint typecheck pytest demo bench clean

deps: .deps.stamp
.deps.stamp:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

venv: $(VENV)/.stamp
$(VENV)/.stamp: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[station,district,test]'
	@touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

typecheck: venv
	$(BIN)/mypy

pytest: deps venv
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test: deps venv lint pytest

demo: deps venv
	$(BIN)/python -m demo.run $(DEMO_ARGS)

bench: deps venv
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .deps.stamp .pytest_cache .mypy_cache .ruff_cache
