# Each target works on a fresh machine: scripts/bootstrap makes .venv first, and
# gateway.localservices finds (or starts) Postgres and Redis.
BIN := .venv/bin
LINT := $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

.PHONY: bootstrap dev test lint fmt screenshots

bootstrap:
	@bash scripts/bootstrap

dev: bootstrap
	$(BIN)/gateway dev

test: bootstrap
	$(BIN)/python -m gateway.localservices --purpose test -- sh -c '$(LINT) && $(BIN)/pytest -n 2'

lint: bootstrap
	$(LINT)

fmt: bootstrap
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

# Renews docs/screenshots/ (shown in the README) from the browser tests.
screenshots: bootstrap
	GATEWAY_SCREENSHOTS=1 $(BIN)/python -m gateway.localservices --purpose test -- $(BIN)/pytest tests/browser -q
