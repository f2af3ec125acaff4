# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Every package `make run` and `make test` install is pinned in the lock, a constraints
# file compiled from pyproject.toml for Linux x86-64 / CPython 3.11 (`make lock` refreshes
# it). The stamp hashes both files: a change of either reinstalls.
LOCK   := requirements/lock.txt
HASH   := $(shell cat pyproject.toml $(LOCK) | sha256sum | cut -c1-12)
PIP    := $(PY) -m pip install -q -c $(LOCK)
# The extras `make test` installs; `make lock` resolves exactly these.
TEST_EXTRAS := api,dev,train,batch,encoder
comma := ,
UV_VERSION  := 0.13.9
# `make lock` moves every package to its newest release allowed by pyproject.toml;
# `make lock LOCK_ARGS="--upgrade-package numpy"` moves one, `LOCK_ARGS=` none.
LOCK_ARGS ?= --upgrade

.PHONY: run test install-run install-test lint lock clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Serving needs only the core + api extras (onnxruntime, no torch).
$(VENV)/.run-$(HASH): pyproject.toml $(LOCK) | $(PY)
	$(PIP) -e '.[api]'
	@touch $@

# Tests also train tiny models (torch) and lint.
$(VENV)/.test-$(HASH): pyproject.toml $(LOCK) | $(PY)
	$(PIP) -e '.[$(TEST_EXTRAS)]'
	@touch $@

install-run: $(VENV)/.run-$(HASH)
install-test: $(VENV)/.test-$(HASH)

## Score the bundled example clips with the embedded default model, then start the
## screening service on http://127.0.0.1:8000 (dev mode: loopback clients, no API key, SQLite).
run: install-run
	$(VENV)/bin/audio-detect score tests/fixtures/audio/*.flac examples/audio/*.flac
	$(VENV)/bin/audio-detect serve --dev

## Install and run the test suite. Tests whose Debian package is missing (sox, espeak-ng,
## chromium, postgresql) skip; the summary names each skip's reason.
test: install-test
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: install-test
	$(VENV)/bin/ruff check audio_detect api tests benchmarks scripts
	$(VENV)/bin/ruff format --check audio_detect api tests benchmarks scripts

## Re-resolve requirements/lock.txt from pyproject.toml (uv pip compile), then run `make test`.
lock: | $(PY)
	$(PY) -m pip install -q uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile pyproject.toml $(foreach e,$(subst $(comma), ,$(TEST_EXTRAS)),--extra $(e)) \
	    --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
	    --annotation-style line --custom-compile-command 'make lock' \
	    $(LOCK_ARGS) -o $(LOCK)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
