# Two commands set everything up: `make demo` and `make test`. Both create .venv and install multigan
# (editable, with test extras) when needed; the pinned torch/torchaudio come from constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.multigan-installed
DEMO_OUT ?= runs/demo

.PHONY: install demo test bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) recipes/toy_ring.py --out $(DEMO_OUT) --overwrite
	@echo "demo: metrics $(DEMO_OUT)/metrics.json, scatter plot $(DEMO_OUT)/samples.png, export $(DEMO_OUT)/export"

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/toy_ring.py

clean:
	rm -rf $(VENV) runs .pytest_cache
