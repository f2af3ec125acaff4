# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HASH   := $(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: run test install-run install-test lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Serving needs only the core + api extras (onnxruntime, no torch).
$(VENV)/.run-$(HASH): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[api]'
	@touch $@

# Tests also train tiny models (torch) and lint.
$(VENV)/.test-$(HASH): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[api,dev,train,batch,encoder]'
	@touch $@

install-run: $(VENV)/.run-$(HASH)
install-test: $(VENV)/.test-$(HASH)

## Score the bundled example clips with the embedded default model, then start the
## screening service on http://127.0.0.1:8000 (dev mode: loopback clients, no API key, SQLite).
run: install-run
	$(VENV)/bin/audio-detect score tests/fixtures/audio/*.flac
	$(VENV)/bin/audio-detect serve --dev

## Install and run the test suite.
test: install-test
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: install-test
	$(VENV)/bin/ruff check audio_detect api tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
