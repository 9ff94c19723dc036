# Two commands on a fresh machine: `make serve` (the demo hall) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# The demo's embedded MQTT broker; 1883 is often taken by a system Mosquitto.
MQTT_PORT ?= 11883
HTTP      ?= 127.0.0.1:8080
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test system-deps broker-dep bench lint clean central

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

serve: $(STAMP) broker-dep
	QUEUED_HTTP=$(HTTP) QUEUED_EMBEDDED_MQTT=127.0.0.1:$(MQTT_PORT) $(BIN)/queued serve $(if $(CONFIG),--config $(CONFIG))

# The embedded MQTT broker is the distribution's Mosquitto (run and supervised by the daemon).
broker-dep:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing: mosquitto"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq mosquitto >/dev/null; }

# What the tests need from the distribution: a real Mosquitto, Chromium and a CJK font, espeak-ng
# and sox (spoken calls), LibreOffice Calc (exports opened as Excel users do), promtool (/metrics),
# PostgreSQL (the central store; tests run a throwaway cluster of their own).
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || missing="$$missing fonts-wqy-microhei"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	command -v sox >/dev/null 2>&1 || missing="$$missing sox"; \
	command -v soffice >/dev/null 2>&1 || missing="$$missing libreoffice-calc-nogui"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The HTTP benchmarks load the daemon with wrk (C), so the load generator leaves the CPU to it.
bench: $(STAMP) system-deps
	@command -v wrk >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# The city's central service on this machine: a throwaway PostgreSQL cluster in $(CENTRAL_DIR)
# (initdb/pg_ctl, as the postgres user when run as root), `queued central serve` on $(CENTRAL_HTTP),
# and the demo hall on $(HTTP) shipping to it. Ctrl-C stops all three.
CENTRAL_DIR  ?= .central
CENTRAL_HTTP ?= 127.0.0.1:8090
central: $(STAMP) system-deps
	$(BIN)/python -m central.demo --dir $(CENTRAL_DIR) --http $(CENTRAL_HTTP) --hall-http $(HTTP) --mqtt-port $(MQTT_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
