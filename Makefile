# adaptive_prompts: PGXS build.
#
#   make && make install        build and install the extension
#   make installcheck           pg_regress tests (sql/ + expected/)
#   test/run                    every test on a throwaway cluster (see README)

EXTENSION = adaptive_prompts
EXTVERSION = 0.2.0

MODULE_big = adaptive_prompts
OBJS = \
	src/ab_decision.o \
	src/ab_tests.o \
	src/activity.o \
	src/anthropic.o \
	src/common.o \
	src/effectiveness.o \
	src/enhancements.o \
	src/experiments.o \
	src/guc.o \
	src/http_client.o \
	src/improvement.o \
	src/known_versions.o \
	src/prompts.o \
	src/proposers.o \
	src/retention.o \
	src/rollups.o \
	src/sanitizer_sql.o \
	src/stats.o \
	src/ts_sanitizer.o \
	src/window.o \
	src/work_orders.o \
	src/worker.o

# The install script of each version and the upgrade scripts between them.
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# Regression tests: every sql/*.sql except the install and upgrade scripts.
REGRESS = $(sort $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
# Each test creates and drops the extension itself, so tests are independent.
REGRESS_OPTS = --dbname=contrib_regression

# PostgreSQL's headers are not -Wextra clean; reading them as system headers
# keeps the warnings on our code only.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server) \
	-DAP_EXTVERSION='"$(EXTVERSION)"'
# Warnings are errors in CI and the tests (test/lib.sh sets WERROR=-Werror),
# not in users' builds: their compilers differ.
WERROR ?=
PG_CFLAGS = -Wall -Wextra $(WERROR)
# The Anthropic client: libcurl for the transport, cJSON for the codec.
SHLIB_LINK += -lcurl -lcjson

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include sanitizer.mk

# C unit tests of the pure cores (TAP output, run by prove in test/run).
UNIT_CC ?= cc
UNIT_CFLAGS = -O2 -g -std=c99 -Wall -Wextra $(WERROR) -I$(srcdir)/src \
	-DAP_EXTVERSION='"$(EXTVERSION)"'

test/unit/stats.t: test/unit/test_stats.c test/unit/tap.h src/stats.c src/stats.h
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ test/unit/test_stats.c src/stats.c -lm

test/unit/ab_decision.t: test/unit/test_ab_decision.c test/unit/tap.h src/ab_decision.c src/ab_decision.h src/stats.c src/stats.h
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ test/unit/test_ab_decision.c src/ab_decision.c src/stats.c -lm

test/unit/anthropic.t: test/unit/test_anthropic.c test/unit/tap.h src/anthropic.c src/anthropic.h
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ test/unit/test_anthropic.c src/anthropic.c -lcjson -lm

# The transport, tested against the mock server, which the test program
# starts itself (test/mock_anthropic.py; openssl for a self-signed certificate).
test/unit/http_client.t: test/unit/test_http_client.c test/unit/tap.h src/http_client.c src/http_client.h src/anthropic.c src/anthropic.h
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ test/unit/test_http_client.c src/http_client.c src/anthropic.c -lcurl -lcjson -lm

unit-tests: test/unit/stats.t test/unit/ab_decision.t test/unit/anthropic.t test/unit/http_client.t
.PHONY: unit-tests
