# The two commands a newcomer runs: `make run` (the platform, embedded) and `make test`.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: install run test test-fast lint up down restart faults slow schemas bench image jaeger clarifications fuzz

# Bytecode is compiled at install: this machine sets PYTHONDONTWRITEBYTECODE=1, so without it every
# process (each CLI call, each service, each test subprocess) compiled ~3,700 modules again (~3 s);
# uv skips what is already compiled (0.4 s).
install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@$(UV) run python -m compileall -q libs services src tests bench >/dev/null

# COLLECTIONS_STATE (when set) is where the run keeps its state, as for every other local command;
# RUN_ARGS adds `collections run` options (RUN_ARGS="--accounts 200 --days 60" for a smaller book).
RUN_ARGS ?=
run: install
	$(UV) run collections run --config deploy/make-run.yaml $(if $(COLLECTIONS_STATE),--state "$(COLLECTIONS_STATE)") $(RUN_ARGS)

# Starts one PostgreSQL and one Kafka for the whole run, and stops them after, whatever the result.
# The broker/database fault tests (marker `faults`, ~3 min: each kills servers of its own) are
# `make faults`, so that CI stays under 15 minutes; `make test TEST_MARKERS=` runs everything.
# The minutes-long whole-stack checks (marker `slow`: the fuzz campaign at CI size, make up's
# observability, the rebalance proof, the throughput bench's harness) are `make slow`.
TEST_MARKERS ?= not faults and not slow
test: install
	@deploy/local/postgres.sh install >/dev/null && deploy/local/kafka.sh install >/dev/null
	@set -o pipefail; export COLLECTIONS_STATE=$$(mktemp -d /tmp/collections-test-XXXXXX); chmod 755 "$$COLLECTIONS_STATE"; \
	pg=$$(deploy/local/postgres.sh start | tail -n1) && kafka=$$(deploy/local/kafka.sh start | tail -n1) || { deploy/local/postgres.sh stop; deploy/local/kafka.sh stop; exit 1; }; \
	COLLECTIONS_PG_URL=$$pg COLLECTIONS_KAFKA_BOOTSTRAP=$$kafka $(UV) run pytest -m "$(TEST_MARKERS)" $(PYTEST_ARGS); status=$$?; \
	deploy/local/kafka.sh stop >/dev/null 2>&1; deploy/local/postgres.sh stop >/dev/null 2>&1; rm -rf "$$COLLECTIONS_STATE"; exit $$status

# Domain and embedded tests only: no broker, no PostgreSQL (seconds).
test-fast: install
	$(UV) run pytest -m "not kafka and not postgres" $(PYTEST_ARGS)

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/events/collections_events services/*/collections_* src/collections_platform
	$(UV) run lint-imports

schemas: install
	$(UV) run collections schemas --out libs/events/schemas

# The distributed mode on this machine: every service its own process on Kafka and PostgreSQL.
up: install
	deploy/local/up.sh

down:
	deploy/local/down.sh

# One service of `make up` stopped (if running) and started again, its log appended: SERVICE=ledger.
restart:
	deploy/local/restart.sh $(SERVICE)

image:
	deploy/image.sh

# Throughput on Kafka + PostgreSQL as a share of raw aiokafka (issue 14); BENCH_ARGS="--events 300000
# --preload 1000000" for the cost-per-event check. Prints a table; starts and stops its own servers.
BENCH_ARGS ?=
bench: install
	$(UV) run python bench/throughput.py $(BENCH_ARGS)

# Issue 15's whole-run check of behaviour.md's clarified rules at full size: a random portfolio of
# 2,000 accounts x 100 business days (2x10^5 account-days) replayed and checked (`make test` runs 240 x 90).
clarifications: install
	COLLECTIONS_CLARIFICATIONS_ACCOUNTS=2000 COLLECTIONS_CLARIFICATIONS_DAYS=100 $(UV) run pytest -s tests/platform/test_platform_clarifications.py

# Issue 15's fault tests: the Kafka broker killed -9 and PostgreSQL stopped -m immediate mid-stream,
# each on private servers the test starts, restarts and stops (tests/faults/, marker `faults`).
faults: install
	$(MAKE) test TEST_MARKERS=faults

slow: install
	$(MAKE) test TEST_MARKERS=slow

# Issue 15's fuzz campaign at full size: 100,000 generated and mutated inbound messages through one
# replay and through decode_message, 2,000 of them through the real broker to a running ledger, and
# schemathesis with 30 examples per API operation and mode (`make test` runs 3,000 / 150 / 5).
# Starts its own PostgreSQL and Kafka when COLLECTIONS_PG_URL / COLLECTIONS_KAFKA_BOOTSTRAP are unset.
fuzz: install
	COLLECTIONS_FUZZ_MESSAGES=100000 COLLECTIONS_FUZZ_POOL=150 COLLECTIONS_FUZZ_KAFKA=2000 COLLECTIONS_FUZZ_API=30 \
	$(UV) run pytest -s -p no:logging tests/fuzz

# The slim Jaeger binary `make up` and the trace tests use (built once, cached; see deploy/README.md).
jaeger:
	deploy/local/jaeger.sh install
