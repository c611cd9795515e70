# Two commands set everything up: `make demo` and `make test`. Both create .venv and install multigan
# (editable, with test extras) when needed; the pinned torch/torchaudio come from constraints.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.multigan-installed
DEMO_OUT ?= runs/demo

.PHONY: install demo demo-toy test bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

FSDD ?= ../shared/data/fsdd/recordings

demo: $(STAMP)
	$(PY) recipes/fsdd_specgan.py --preset demo --data $(FSDD) --out $(DEMO_OUT) --overwrite
	$(VENV)/bin/multigan generate $(DEMO_OUT) -n 20 --seed 0 --out $(DEMO_OUT)/samples
	@echo "demo: 2 WAVs of every digit and spectrograms.png in $(DEMO_OUT)/samples; TensorBoard: $(VENV)/bin/tensorboard --logdir $(DEMO_OUT)/logs"

demo-toy: $(STAMP)
	$(PY) recipes/toy_ring.py --out runs/toy_ring --overwrite

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/toy_ring.py

clean:
	rm -rf $(VENV) runs .pytest_cache
