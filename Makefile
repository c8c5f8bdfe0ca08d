# Switchyard build. One static library per subsystem (src/<dir> -> $(BUILD)/lib<dir>.a), so a
# unit test links only the layers it tests and a half-written file in one subsystem does not
# break another's tests. The binary links them all.
#
#   make            build/switchyard
#   make run        install missing Debian packages, build, run on etc/switchyard.cfg
#   make test       install test packages, build, run every test (ends "N passed, N failed")
#   make fuzz       libFuzzer targets, time-boxed (FUZZ_SECONDS per target)
#   make bench      sipbench against Kamailio (see docs/bench.md)
#   BUILD=dir       build somewhere else (e.g. parallel work trees)

CC      ?= cc
BUILD   ?= build
OPT     ?= -O2 -g
STRICT  := -std=c11 -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes
CPPFLAGS += -D_GNU_SOURCE -Isrc
CFLAGS  ?=
ALL_CFLAGS = $(STRICT) $(OPT) $(CFLAGS) $(CPPFLAGS) -MMD -MP
LDLIBS  = -lpthread -lsqlite3 -lhiredis -lssl -lcrypto
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# subsystems in link order (a library may use only those after it)
LAYERS  := mgmt mod tm proxy store script tp sip core
# what each layer's unit tests link
DEPS_core   := core
DEPS_sip    := sip core
DEPS_tp     := tp sip core
DEPS_proxy  := proxy script tp sip core
DEPS_script := script sip core
DEPS_store  := store core
DEPS_tm     := tm proxy script tp sip core
DEPS_mod    := $(LAYERS)
DEPS_mgmt   := $(LAYERS)

lib_src = $(wildcard src/$(1)/*.c)
lib_obj = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(call lib_src,$(1)))
LIBS    := $(foreach l,$(LAYERS),$(if $(call lib_src,$(l)),$(BUILD)/lib$(l).a))

.PHONY: all run test unit fuzz clean deps test-deps bench bench-stateless stress
all: $(BUILD)/switchyard $(BUILD)/switchyard-ctl

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

define LIB_RULE
$(BUILD)/lib$(1).a: $(call lib_obj,$(1))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(if $(call lib_src,$(l)),$(eval $(call LIB_RULE,$(l)))))

$(BUILD)/obj/main.o: src/main.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/switchyard: $(BUILD)/obj/main.o $(LIBS)
	$(CC) $(OPT) $(CFLAGS) -o $@ $< -Wl,--start-group $(LIBS) -Wl,--end-group $(LDLIBS)

# the management client (docs/mgmt.md): only the JSON parser of libmgmt gets linked in
$(BUILD)/switchyard-ctl: tools/switchyard-ctl.c $(BUILD)/libmgmt.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libmgmt.a

# ---- unit tests: tests/unit/<layer>_<name>.c, cmocka, one binary each
UNIT_SRC := $(wildcard tests/unit/*_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
layer_of = $(firstword $(subst _, ,$(notdir $(1))))
unit_libs = $(foreach l,$(DEPS_$(call layer_of,$(1))),$(if $(call lib_src,$(l)),$(BUILD)/lib$(l).a))

.SECONDEXPANSION:
$(BUILD)/unit/%: tests/unit/%.c $$(call unit_libs,%)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< -Wl,--start-group $(call unit_libs,$*) -Wl,--end-group -lcmocka $(LDLIBS)
unit: $(UNIT_BIN)

# ---- fuzz targets: tests/fuzz/fuzz_<layer>_<name>.c define LLVMFuzzerTestOneInput.
# `make test` links them with tests/fuzz/replay.c (plain main over the corpus) under ASan+UBSan;
# `make fuzz` links them with libFuzzer (clang).
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
flayer_of = $(word 2,$(subst _, ,$(notdir $(1))))
fuzz_libs = $(foreach l,$(DEPS_$(call flayer_of,$(1))),$(if $(call lib_src,$(l)),$(BUILD)/lib$(l).a))
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $$(call fuzz_libs,%)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< tests/fuzz/replay.c -Wl,--start-group $(call fuzz_libs,$*) -Wl,--end-group $(LDLIBS)
fuzz-replay: $(FUZZ_REPLAY)

FUZZ_SECONDS ?= 60
# FUZZ_JOBS targets run at once (niced); scripts/fuzz.sh writes $(LF_DIR)/report.tsv with the CPU
# seconds each one really had.
FUZZ_JOBS ?= 1
# FUZZ_TARGETS=tests/fuzz/fuzz_sip_msg.c ... narrows `make fuzz` to some targets; tests/fuzz/<target>.dict,
# when present, is passed as the libFuzzer dictionary. Everything goes
# under $(BUILD)/libfuzzer (so parallel work trees never share it), each target links only the
# libraries of its layer, new inputs land in $(BUILD)/libfuzzer/corpus-<target>, crashes in
# $(BUILD)/libfuzzer/crash-<target>/ and make fails naming them (copy them into
# tests/fuzz/corpus/<target>/ once fixed, as regressions).
FUZZ_TARGETS ?= $(FUZZ_SRC)
LF_DIR = $(BUILD)/libfuzzer
$(BUILD)/lf/%: tests/fuzz/%.c $$(call fuzz_libs,%)
	@mkdir -p $(dir $@)
	$(CC) $(STRICT) -Wno-missing-prototypes $(CPPFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $< \
	  -Wl,--start-group $(call fuzz_libs,$*) -Wl,--end-group $(LDLIBS)
fuzz:
	$(MAKE) BUILD=$(LF_DIR) CC=clang OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	  $(patsubst tests/fuzz/%.c,$(LF_DIR)/lf/%,$(FUZZ_TARGETS))
	sh scripts/fuzz.sh $(LF_DIR) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(patsubst tests/fuzz/%.c,%,$(FUZZ_TARGETS))
lib-only: $(LIBS)

# ---- top-level commands
deps:
	@sh scripts/deps.sh run
test-deps:
	@sh scripts/deps.sh test

run: deps all
	$(BUILD)/switchyard -f etc/switchyard.cfg

# The ASan+UBSan tree lives inside $(BUILD), so `make BUILD=build-x test` shares nothing. Builds
# run with -k and do not stop the run: tests/run.py counts a test whose build failed as failed,
# so the output always ends with "N passed, N failed".
test: test-deps
	-$(MAKE) -k all
	-$(MAKE) -k BUILD=$(BUILD)/asan OPT="-O1 -g $(SAN)" unit fuzz-replay all
	python3 tests/run.py --build $(BUILD) --asan $(BUILD)/asan

# ---- benchmarks (not tests; ports 5060/5070/5080): sipbench compare against Kamailio with the
# same routing, for 1 and for 2 workers. The worker count is written into a copy of the config.
BENCH_ARGS ?= --rounds 3 --rate 500 --duration 20
KAMAILIO   := kamailio -DD -E -m 1024 -x tlsf
define BENCH_RUN
	@set -e; for w in 1 2; do \
	  sed "s/^children = .*/children = $$w/" etc/$(1) > $(BUILD)/$(1).w$$w; \
	  echo "== $$w worker(s): etc/$(1) vs ../shared/bench/$(2)"; \
	  ../shared/bench/sipbench compare $(BENCH_ARGS) -- $(BUILD)/switchyard -f $(BUILD)/$(1).w$$w \
	    -- $(KAMAILIO) -f ../shared/bench/$(2) -A WORKERS=$$w; \
	done
endef
bench: all
	$(call BENCH_RUN,bench.cfg,kamailio-tm.cfg)
bench-stateless: all
	$(call BENCH_RUN,bench-sl.cfg,kamailio-sl.cfg)

# ---- long reliability runs (issue 7, docs/reliability.md), against the ASan+UBSan build:
# 1000 calls under 10% UDP loss, 60 s at five times the measured capacity, a 30-minute soak
# (SOAK_SECONDS overrides). Not part of `make test`; about 40 minutes.
stress: test-deps
	-$(MAKE) -k BUILD=$(BUILD)/asan OPT="-O1 -g $(SAN)" all
	SY_BIN=$(BUILD)/asan/switchyard python3 tests/stress/run.py

clean:
	rm -rf build build-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
