# The two commands of the kit: `make demo` and `make test`. Both create .venv and install the locked
# versions (requirements.lock) on first use; `make test-fast` is the developer's two-minute loop. `make test-latest` runs the suite against the newest versions
# setup.cfg's floors allow; `make lock` re-resolves the lock to them (after test-latest passed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
LATEST := .venv-latest
TOOLS  := .venv-tools
PIP_TOOLS := pip-tools==7.6.2
export PYTHONUNBUFFERED := 1

.PHONY: install demo test test-fast test-latest lock bench clean

# The lock holds setuptools and wheel too (the build backend), so the kit's own editable install builds
# without fetching anything unpinned; packages the lock lacks (left by an older lock) are removed.
$(STAMP): $(LOCK) setup.cfg pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python .ci/lock_diff.py --extras $(LOCK) | xargs -r $(BIN)/python -m pip uninstall --quiet -y
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

test: install
	$(BIN)/python -m pytest -q

# The developer's loop: every test but the slow and end-to-end ones (docs/testing.md), under two minutes.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not e2e"

test-latest:
	test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test]'
	$(LATEST)/bin/python -m pytest -q; status=$$?; $(LATEST)/bin/python .ci/lock_diff.py $(LOCK); exit $$status

lock:
	@echo "== re-resolving $(LOCK) to the newest versions setup.cfg and lock-constraints.txt allow"
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet '$(PIP_TOOLS)'
	$(TOOLS)/bin/pip-compile --quiet --upgrade --extra test --all-build-deps --allow-unsafe --generate-hashes \
		--strip-extras --no-emit-index-url --no-emit-find-links --constraint lock-constraints.txt \
		--output-file $(LOCK) pyproject.toml

demo: install
	@echo "== 1/5 synthetic data in the Kaggle layouts (data/)"
	$(BIN)/python -m competitions.nexperia.synth --out data/nexperia
	$(BIN)/python -m competitions.home_credit.synth --out data/home_credit
	@echo "== 2/5 the autopilot: each competition played within a budget (plays/<competition>/demo/play.html)"
	$(BIN)/kit play home_credit --budget 2m --name demo
	$(BIN)/kit play nexperia --budget 2m --name demo
	@echo "== 3/5 Nexperia: CNN fold 0 (runs/nexperia/demo), re-predicted without TTA (runs/nexperia/demo-tta-none)"
	$(BIN)/python competitions/nexperia/train.py --config competitions/nexperia/configs/demo.yaml --fold 0
	$(BIN)/python competitions/nexperia/predict.py --run runs/nexperia/demo --tta none --workers 0
	@echo "== 4/5 Nexperia: noisy-label audit of the CNN's fold"
	$(BIN)/python competitions/nexperia/noisy.py --oof runs/nexperia/demo --grid 12
	@echo "== 5/5 blend -> validated submission -> ledger (dry run), kernel folder"
	$(BIN)/python -m submissions.blend --competition nexperia --runs demo --method hill --post leak-fix --allow-partial
	$(BIN)/python -m submissions.submit --latest --competition nexperia -m "make demo" --dry-run
	$(BIN)/python -m submissions.leaderboard report
	# --no-wheels: the demo skips packing the ~200 MB of wheels a real push attaches (kernels.wheels)
	$(BIN)/python -m kernels.build nexperia-train --fold 0 --owner demo-user --no-wheels
	@echo "== report: runs, blends and ledger in one page"
	$(BIN)/python -m submissions.report
	@echo "Outputs: data/ (synthetic data), plays/<competition>/demo/ (each play: play.html, decisions.jsonl, its runs"
	@echo "         and submissions), cache/, runs/<competition>/<run>/ (oof.csv, test.csv, metrics.json, plots),"
	@echo "         submissions/files/<competition>/ (submission CSV + JSON), submissions/ledger.sqlite, kernels/build/,"
	@echo "         submissions/files/report.html (every run, blend and submission in one page)"

bench: install
	$(BIN)/python bench/metrics.py

clean:
	rm -rf runs cache plays submissions/files kernels/build
