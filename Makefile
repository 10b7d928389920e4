# The two commands of the course: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
JB := $(VENV)/bin/jupyter-book
JOBS ?= 2

# The offline default: chapters never try live sources in a build (set S2SLIDE_OFFLINE=0 to allow it).
export S2SLIDE_OFFLINE ?= 1
# The real sample files, when a mirror of them sits beside the checkout (as on CI).
MIRROR_DEFAULT := $(abspath ../shared/data)
export S2SLIDE_MIRROR ?= $(if $(wildcard $(MIRROR_DEFAULT)/README.md),$(MIRROR_DEFAULT),)
# Elsewhere (a fresh clone on GitHub, a laptop), `make mirror` downloads the same files from their
# public addresses (checked by sha256) into _build/mirror-download once, and chapters read them there.
ifeq ($(S2SLIDE_MIRROR),)
export S2SLIDE_MIRROR := $(abspath _build/mirror-download/mirror)
MIRROR_DEP := mirror
endif
export S2SLIDE_CACHE ?= $(abspath _build/cache)
export S2SLIDE_RESULTS ?= $(abspath _build/results)
export NO_GCE_CHECK := true
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export TF_CPP_MIN_LOG_LEVEL := 2

STATS := _build/generated/statistics.md
BUILD := $(JB) build . --warningiserror --keep-going --quiet

.PHONY: book test venv mirror unit notebooks colab html site clean

venv:
	@tools/venv.sh $(PYTHON) $(VENV)

mirror: venv
	@S2SLIDE_OFFLINE=0 CI= S2SLIDE_CACHE=$(abspath _build/mirror-download) $(PY) -c \
	  "from s2slide.data import registry; [registry.fetch(p, progressbar=False) for p in registry.FILES]"

# Executed notebooks are cached (jupyter-cache in _build/.jupyter_cache): a second run with
# nothing changed re-executes nothing. The statistics page is filled from the results files
# the chapters wrote, so the site is built a second time only if those changed.
html: venv $(MIRROR_DEP)
	@$(PY) -m s2slide.records.results $(STATS) >/dev/null
	$(BUILD)
	@if [ "$$($(PY) -m s2slide.records.results $(STATS))" = changed ]; then $(BUILD); fi

book: html
	@echo "The book: $(abspath _build/html/index.html)"

unit: venv
	$(PY) -m pytest tests -m "not site and not colab" -n $(JOBS) -q

notebooks: venv $(MIRROR_DEP)
	$(PY) -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
	  -n $(JOBS) --dist loadfile -q notebooks

# Each light chapter alone in a fresh Colab stand-in (tests/test_colab.py), built from Colab's own
# pip freeze (../shared/colab/pip-freeze.txt, or S2SLIDE_COLAB_FREEZE) on Python 3.13 (else 3.12, 3.11:
# the first line says which); S2SLIDE_COLAB_ALL=1 adds the heavy ones (05, 06, 08), as the weekly CI
# run does. The first run builds the base from PyPI (minutes); later ones reuse _build/colab-base.
colab: venv $(MIRROR_DEP)
	@rm -f _build/colab-base/SKIPPED
	@$(PY) tests/test_colab.py
	$(PY) -m pytest tests -m colab -n $(JOBS) -q -rs

site: html
	@tools/chromium.sh
	$(PY) -m pytest tests -m site -q

test: unit notebooks colab site
	@if [ -f _build/colab-base/SKIPPED ]; then \
	  echo "make test: all checks passed, but the Colab stand-in was skipped: $$(cat _build/colab-base/SKIPPED)"; \
	else echo "make test: all checks passed"; fi

clean:
	rm -rf _build
