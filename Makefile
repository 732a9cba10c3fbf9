# idjourney — the two commands a new user runs: `make reproduce` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: reproduce test paper lint format bench clean r-references report-check

$(BIN)/python:
	@echo ">> creating virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	@echo ">> installing idjourney and its test tools into $(VENV)"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

reproduce: $(STAMP)
	@echo ">> running the main job on the embedded synthetic baseline world"
	$(BIN)/idjourney run --out out

# Render the report in headless Chromium (Debian package `chromium`, installed here if missing;
# needs root for apt-get) and check every figure and table; saves out/report-screenshot.png.
report-check: $(STAMP)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { echo ">> installing chromium (apt-get)"; apt-get update -qq && apt-get install -y -qq chromium; }
	@mkdir -p out
	IDJOURNEY_REPORT_CHECK=1 IDJOURNEY_REPORT_SCREENSHOT=out/report-screenshot.png \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_report_browser.py

test: $(STAMP)
	@echo ">> running the test suite"
	$(BIN)/python -m pytest -q

paper: $(STAMP)
	@echo ">> running the notebooks at full size and compiling paper/paper.pdf"
	$(BIN)/python scripts/make_paper.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_survival.py
	$(BIN)/python benchmarks/bench_bootstrap.py
	$(BIN)/python benchmarks/bench_simstudy.py
	$(BIN)/python benchmarks/bench_robust.py

# Regenerate the R reference values in tests/data/r/ (committed; `make test` never needs R).
# Needs R with survival, cmprsk and etm, e.g. on Debian/Ubuntu:
#   apt-get install -y r-base-core r-cran-survival r-cran-cmprsk r-cran-etm
# (the stored values were made with R 4.2.2 and survival 3.5.3).
r-references:
	@for script in tests/r/*.R; do echo ">> Rscript $$script"; Rscript "$$script" || exit 1; done

clean:
	rm -rf out paper/generated paper/paper.pdf .pytest_cache .hypothesis .ruff_cache
