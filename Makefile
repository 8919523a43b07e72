# The two commands of README.md.
.PHONY: test run

# Installs what the tests need (Chromium and Mosquitto from Debian when missing; without them the
# browser and broker tests skip and say why), then runs the whole suite.
test:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v mosquitto >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium mosquitto >/dev/null) \
	  || echo "make test: could not install chromium/mosquitto; those tests will be skipped"; \
	fi
	python3 -m pip install -q -e '.[dev]'
	python3 -m pytest

# Installs stopcast and runs it on the generated demo network (embedded broker, local HTTP).
run:
	python3 -m pip install -q -e . && stopcast demo
