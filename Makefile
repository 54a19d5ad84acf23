# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test install check clean browser bench mutation

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Start the line on http://127.0.0.1:$(PORT) with the shipped call_flows.yaml and SQLite
## (`make run PORT=5001` when 5000 is taken). Once it is up, gunicorn says where the browser
## phone is; a flow or DATABASE_URL it cannot use is one message, and make stops.
run: install
	@exec $(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$(PORT) "ivr:create_app()"

## A Chromium for the browser phone's end-to-end test. Under CI (CI set, a Debian machine run as
## root) Debian's package is installed when missing; elsewhere nothing is installed, and the
## browser tests are skipped with a note saying how to get one.
browser:
	@if [ -x /usr/bin/chromium ] || [ -n "$$IVR_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ -n "$$CI" ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; \
	else \
		echo "No Chromium here: the browser phone's tests will be skipped (Debian or Ubuntu:"; \
		echo "sudo apt-get install chromium; macOS: brew install --cask chromium; or set IVR_CHROMIUM)."; \
	fi

## Run the whole test suite (CI runs this through .ci/run).
test: install browser
	HYPOTHESIS_STORAGE_DIRECTORY=$(CURDIR)/.hypothesis $(BIN)/python -m pytest

## Mutation testing of the call engine, the hours and the crisis matching (slow; not part of `make test`).
$(VENV)/.mutation: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,mutation]'
	touch $@

# MUTANTS='ivr.call.x_dialed__*' mutates one function only (quicker; mutmut's names, globs allowed).
mutation: $(VENV)/.mutation
	rm -rf mutants
	HYPOTHESIS_STORAGE_DIRECTORY=$(CURDIR)/mutants/.hypothesis $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/python -m tests.mutation_score

## The load benchmark: the line against the textbook peer and a fixed-string floor, same gunicorn (bench/RESULTS.md).
bench: install
	$(BIN)/python bench/run.py --parts

## Check the call-flow file the way the server does.
check: install
	$(BIN)/ivr check

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis mutants
