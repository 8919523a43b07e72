# The two commands of README.md. Both install into the project's own virtual environment (.venv,
# made with `python3 -m venv` without the machine's site-packages) and run from it: nothing is
# installed into, or taken from, the machine's global Python.
.PHONY: test run venv system-packages speech-package

VENV ?= .venv
PY := $(VENV)/bin/python

# Creates the venv when missing (or when it was made without pip / for another Python).
$(PY):
	python3 -m venv --clear $(VENV)
	$(PY) -m pip install -q --upgrade pip

venv: $(PY)

# Debian packages the tests and the demo use: Chromium (browser tests), Mosquitto (broker tests),
# nats-server (the broker-cluster test), espeak-ng (spoken departures), prometheus (promtool: the alert
# rules' checks and unit tests). Installed when missing and possible (root); without them those tests
# skip and say why.
system-packages:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v mosquitto >/dev/null 2>&1 \
	    || ! command -v espeak-ng >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 \
	    || ! { command -v nats-server >/dev/null 2>&1 || test -x /usr/sbin/nats-server; }; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium mosquitto nats-server espeak-ng prometheus >/dev/null) \
	  || echo "make: could not install chromium/mosquitto/nats-server/espeak-ng/prometheus; those tests will be skipped"; \
	fi

# The demo speaks (speech.wav, the boards' "Vorlesen" buttons) with espeak-ng; without it, it says so and serves frames.
speech-package:
	@command -v espeak-ng >/dev/null 2>&1 \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
	  || echo "make: could not install espeak-ng; the demo serves frames without speech"

# Installs what the tests need, then runs the whole suite from the venv.
test: $(PY) system-packages
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pytest

# Installs stopcast and runs it on the generated demo network (embedded broker, local HTTP).
run: $(PY) speech-package
	$(PY) -m pip install -q -e .
	$(VENV)/bin/stopcast demo
