# msr: the two commands a user needs are `make book` and `make test`; both set
# everything up on a fresh machine with Python 3.11.
PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= fmnist
ONLY    ?=
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
FMNIST  := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: venv data devdata book html test test-bench test-browser test-gpu bench clean help

help:
	@echo "make book     build the book (PROFILE=fmnist renders committed results; PROFILE=smoke computes on CPU)"
	@echo "make test     lint (ruff) and run the test suite"
	@echo "make test-browser  open the built book in headless Chromium and check every chapter"

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[book,dev]"
	touch $@

venv: $(STAMP)

# Fashion-MNIST from Debian's dataset-fashion-mnist where apt is available (offline
# default data); elsewhere msr.data falls back to torchvision's download.
data:
	@if [ ! -e $(FMNIST) ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian package dataset-fashion-mnist"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	fi

# What a GPU command carries (notes/gpu-runs.md), git-ignored: the Fashion-MNIST files and, for the
# self-check of the fast paths on a machine without pytest, pytest 8.3 (pure Python, no pygments: 2 MiB)
devdata: venv data
	mkdir -p .devdata
	cp $(dir $(FMNIST))*.gz .devdata/
	$(BIN)/python -m pip install -q --upgrade --no-deps --no-compile --target .devdata/pylib \
		"pytest==8.3.5" "pluggy>=1.5,<2" iniconfig packaging
	rm -rf .devdata/pylib/bin

# PROFILE=smoke computes everything on a CPU; other profiles render what results/ holds
# (so `make book` never trains for hours) unless COMPUTE=1.  ONLY=NAMES executes those
# chapters and renders the others that have no executed copy for this profile yet.
RENDER_ONLY = $(if $(or $(filter smoke,$(PROFILE)),$(COMPUTE)),,--render-only)
DEVICE ?= auto

book: venv data
	$(BIN)/msr reproduce --profile $(PROFILE) --device $(DEVICE) $(RENDER_ONLY) $(if $(ONLY),--only $(ONLY) --fill-missing)
	$(MAKE) html

html: venv
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going

test: venv data
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not browser and not bench"

# Wall-clock bounds (a busy machine fails them): run on a quiet machine.
test-bench: venv
	$(BIN)/python -m pytest -q -m bench

# Needs a built book (make book) and Debian's chromium, installed here when apt is available.
test-browser: venv
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian package chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	MSR_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -m browser -p no:cacheprovider

bench: venv
	$(BIN)/msr bench

clean:
	rm -rf _build book/_executed
