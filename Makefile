# `make run` serves the app, `make test` runs the whole suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run run-api-pix test lint format migrate bench bench-request-cost bench-soak bench-flood bench-deliveries clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

# The checkout, and beside it the PSP simulator (http://127.0.0.1:5100), registered for the checkout's webhook,
# so a payment page offers "pagar com o simulador de PSP" in development. Ctrl+C stops both.
SIMULATOR_PORT ?= 5100
run: $(VENV)/.installed-run
	@SIM_PORT=$(SIMULATOR_PORT) \
	SIM_WEBHOOK_URLS="$${PIX_KEY:-123e4567-e12b-12d1-a456-426655440000}=http://127.0.0.1:$${PORT:-5000}/webhooks/api-pix?hmac=development-only-psp-webhook-token&ignorar=" \
	$(BIN)/python -m psp_simulator & simulator=$$!; trap 'kill $$simulator 2>/dev/null' EXIT; \
	PIX_SIMULATOR_URL=http://127.0.0.1:$(SIMULATOR_PORT) $(BIN)/python app.py

# The checkout with its charges at the PSP simulator, over mutual TLS (certificates made in instance/dev-tls).
DEV_TLS := instance/dev-tls
run-api-pix: $(VENV)/.installed-run
	@$(BIN)/python -m psp_simulator.dev_tls $(DEV_TLS)
	@SIM_PORT=$(SIMULATOR_PORT) SIM_TLS_CERT=$(DEV_TLS)/server.pem SIM_TLS_KEY=$(DEV_TLS)/server.key \
	SIM_TLS_CLIENT_CA=$(DEV_TLS)/ca.pem SIM_PUBLIC_URL=https://127.0.0.1:$(SIMULATOR_PORT) \
	SIM_WEBHOOK_URLS="$${PIX_KEY:-123e4567-e12b-12d1-a456-426655440000}=http://127.0.0.1:$${PORT:-5000}/webhooks/api-pix?hmac=development-only-psp-webhook-token&ignorar=" \
	$(BIN)/python -m psp_simulator & simulator=$$!; trap 'kill $$simulator 2>/dev/null' EXIT; \
	PIX_PROVIDER=api-pix PIX_PSP_API_URL=https://127.0.0.1:$(SIMULATOR_PORT) PIX_PSP_CA_BUNDLE=$(DEV_TLS)/ca.pem \
	PIX_PSP_CERTIFICATE=$(DEV_TLS)/client.pem PIX_PSP_CLIENT_ID=checkout-dev PIX_PSP_CLIENT_SECRET=checkout-dev-secret \
	PIX_SIMULATOR_URL=https://127.0.0.1:$(SIMULATOR_PORT) $(BIN)/python app.py

# Apply the schema migrations to DATABASE_URL (the embedded SQLite database migrates itself at start).
migrate: $(VENV)/.installed-run
	$(BIN)/flask --app app db upgrade

# The load benchmark, timing the server's garbage collections (minutes; BENCH_ARGS=--quick for a short run).
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/load.py --trace-gc $(BENCH_ARGS)

# Server CPU per request, from an empty eventlet WSGI app up to a payment creation (about 40 s).
bench-request-cost: $(VENV)/.installed-dev
	$(BIN)/python bench/request_cost.py $(BENCH_ARGS)

# Pages coming and going at 200/s beside 2,000 waiting ones, 50 confirmations/s, for 5 minutes: stalls, memory.
bench-soak: $(VENV)/.installed-dev
	$(BIN)/python bench/soak.py $(BENCH_ARGS)

# One abusive Socket.IO client against 1,000 waiting pages (about 2 minutes). Not part of `make test`.
bench-flood: $(VENV)/.installed-dev
	$(BIN)/python bench/flood.py $(BENCH_ARGS)

# One webhook worker against a fast local receiver: deliveries/s and commit-to-first-attempt delay (about 1 minute).
bench-deliveries: $(VENV)/.installed-dev
	$(BIN)/python bench/deliveries.py $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# newman runs the Postman collection; without npm its test skips (and fails when CI=true).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the Postman collection test will skip"; fi

test: lint node_modules/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance node_modules
