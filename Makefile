# ringtrain - data-parallel trainer in C.  `make help` lists the targets.
CC       ?= cc
PREFIX   ?= /usr/local
BUILD    := build
PKGS     := ompi-c hdf5 libcjson openblas zlib libpng
PYTHON   := /usr/bin/python3

WARN     := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Werror
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
CPPFLAGS := -D_GNU_SOURCE -DRT_GIT_COMMIT='"$(GIT_COMMIT)"' -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

# -fno-math-errno lets sqrtf and friends vectorise (the AdamW loop); results are
# the same IEEE values, only errno is not set. -ffast-math stays off.
ifeq ($(DEBUG),1)
  OPT := -O0 -g3
else
  OPT := -O3 -g -march=x86-64-v2 -fno-math-errno
endif
ifneq ($(SANITIZE),)
  OPT += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=$(SANITIZE)
endif
CFLAGS   := $(WARN) $(OPT) -MMD -MP

# Each flavour (plain, DEBUG, SANITIZE) builds in its own object directory, and
# build/ringtrain and build/libringtrain.a are refreshed from the one asked for,
# so switching flavours never mixes objects.
comma    := ,
FLAVOUR  := $(if $(SANITIZE),san-$(subst $(comma),-,$(SANITIZE)))$(if $(filter 1,$(DEBUG)),-debug)
OBJDIR   := $(BUILD)/obj$(if $(FLAVOUR),-$(FLAVOUR))
LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(OBJDIR)/%.o)
LIB      := $(BUILD)/libringtrain.a
SONAME   := libringtrain.so.0
SO       := $(BUILD)/$(SONAME)
BIN      := $(BUILD)/ringtrain
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(OBJDIR)/tests/%)
BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(OBJDIR)/tests/bench/%)

DEB_BUILD := libopenmpi-dev openmpi-bin libopenblas-dev libhdf5-dev hdf5-tools \
             libcjson-dev pkg-config zlib1g-dev libpng-dev
DEB_DATA  := dataset-fashion-mnist
DEB_REF   := python3-torch python3-h5py python3-numpy
DEB_SLURM := slurmctld slurmd slurm-client munge iproute2
DEB_CHECK := clang-14 libclang-rt-14-dev valgrind gnuplot-nox abigail-tools doxygen
DEB_ALL   := $(DEB_BUILD) $(DEB_DATA) $(DEB_REF) $(DEB_SLURM) $(DEB_CHECK)

.PHONY: all deps demo check test test-sanitized bench cluster-bench install clean help unit-tests fuzz fuzz-run \
        abi-check abi-update docs examples FORCE
all: $(BIN) $(LIB) $(SO)

help:
	@echo "make            build build/ringtrain"
	@echo "make deps       install the Debian packages (no-op when present)"
	@echo "make demo       train fashion_mlp for one epoch"
	@echo "make check      the fast tier while developing (under 2 minutes)"
	@echo "make test       unit, gradcheck, end-to-end, bad-input and PyTorch parity tests"
	@echo "make bench      throughput against PyTorch (not part of test)"
	@echo "make cluster-bench  the ring on emulated hosts at 400 Mbit/s links"
	@echo "make install PREFIX=DIR   binary, libringtrain.a and .so, headers, ringtrain.pc"
	@echo "make docs       the C API reference (Doxygen) in build/docs/html"
	@echo "make abi-check  libringtrain.so against the committed ABI baseline (tests/abi/)"
	@echo "make abi-update refresh that baseline, on purpose"
	@echo "switches: DEBUG=1, SANITIZE=address,undefined"

# The loops through src/ops/vmath.h's exp and tanh vectorise only where GCC
# may compute both sides of their selects: -fno-trapping-math allows that and
# changes no value (it concerns floating-point exception flags, never results).
$(OBJDIR)/src/ops/elementwise.o $(OBJDIR)/src/ops/attention.o: CFLAGS += -fno-trapping-math

$(OBJDIR)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The library's objects are position independent, so one set builds both the
# archive and the shared library. They are compiled hidden: only what a header
# marks RT_API (include/ringtrain/api.h) is exported from libringtrain.so.
$(LIB_OBJ): CFLAGS += -fPIC -fvisibility=hidden -fno-semantic-interposition

$(OBJDIR)/libringtrain.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(OBJDIR)/$(SONAME): $(LIB_OBJ) src/ringtrain.map
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=src/ringtrain.map \
	  -Wl,-z,defs -o $@ $(LIB_OBJ) $(LDLIBS)

$(SO): $(OBJDIR)/$(SONAME) FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }
	@ln -sf $(SONAME) $(BUILD)/libringtrain.so

$(OBJDIR)/ringtrain: $(OBJDIR)/src/main.o $(OBJDIR)/libringtrain.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN): $(OBJDIR)/ringtrain FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(LIB): $(OBJDIR)/libringtrain.a FORCE
	@cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(OBJDIR)/tests/bench/%: $(OBJDIR)/tests/bench/%.o $(OBJDIR)/libringtrain.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# bench_ceiling records every product the library computes (tests/bench/bench_ceiling.c)
$(OBJDIR)/tests/bench/bench_ceiling: LDFLAGS += -Wl,--wrap=rt_sgemm

$(OBJDIR)/tests/%: $(OBJDIR)/tests/%.o $(OBJDIR)/libringtrain.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FORCE:

# ---- libFuzzer harnesses (clang): `make fuzz` builds, `make fuzz-run` runs each for FUZZ_SECONDS ----
FUZZ_CC      := clang-14
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_FLAGS   := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
FUZZ_OBJ     := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_BIN     := $(FUZZ_DIR)/fuzz_config $(FUZZ_DIR)/fuzz_h5

$(FUZZ_DIR)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

unit-tests: $(TEST_BIN) $(OBJDIR)/tests/bench/bench_ceiling

# preloaded by the sanitized pass (tests/tools/no_dlclose.c says why); built
# without the sanitizers, so it needs no runtime of its own
$(OBJDIR)/tests/no_dlclose.so: tests/tools/no_dlclose.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) -D_GNU_SOURCE $(WARN) -O2 -fPIC -shared -o $@ $<

deps:
	@missing=""; for p in $(DEB_ALL); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

data/fashion-mnist.h5: | $(BIN)
	@mkdir -p data
	$(BIN) prep fashion-mnist --out $@

data/fashion-keypoints.h5: | $(BIN)
	@mkdir -p data
	$(BIN) prep fashion-keypoints --out $@

MPIRUN := OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun

demo: deps
	$(MAKE) $(BIN) data/fashion-mnist.h5
	$(MPIRUN) -np 2 $(BIN) train configs/fashion_mlp.json --run-dir runs/demo-$$(date +%Y%m%d-%H%M%S)

# `make check`: the fast tier for development: layout, op gradchecks, model
# invariants, the ring at np = 2, bad input at np = 1 and one short run.
check: deps
	$(MAKE) $(BIN) $(SO) unit-tests data/fashion-mnist.h5
	tests/run_all.sh $(OBJDIR) check

# `make test`: every suite on the plain build (with valgrind and the fuzzers),
# then the unit and single-process suites once more under ASan and UBSan.
# `make SANITIZE=... test` runs only the sanitized pass.
test: deps
ifeq ($(SANITIZE),)
	$(MAKE) $(BIN) $(SO) unit-tests fuzz data/fashion-mnist.h5 data/fashion-keypoints.h5
	tests/run_all.sh $(OBJDIR)
	$(MAKE) SANITIZE=address,undefined test-sanitized
else
	$(MAKE) test-sanitized
endif

test-sanitized: data/fashion-mnist.h5
	$(MAKE) $(OBJDIR)/ringtrain unit-tests $(OBJDIR)/tests/no_dlclose.so
	tests/run_all.sh $(OBJDIR) sanitize

bench: deps
	$(MAKE) $(BIN) $(BENCH_BIN) $(OBJDIR)/tests/test_alloc data/fashion-mnist.h5
	OBJDIR=$(OBJDIR) tests/bench/run.sh

# `make cluster-bench`: the ring on emulated hosts at a real link speed
# (RATE Mbit/s, default 400), side by side with its bound and MPI_Allreduce.
cluster-bench: deps
	$(MAKE) $(BIN)
	tests/bench/cluster_bench.sh $(BIN)

# ---- the C API: ABI baseline and reference ----
ABI_BASE := tests/abi/libringtrain.abi
ABIDW    := abidw --exported-interfaces-only --no-corpus-path --no-comp-dir-path --short-locs \
            --headers-dir include/ringtrain

abi-check: $(SO)
	tests/abi/check.sh $(ABI_BASE) $(SO)

abi-update: $(SO)
	$(ABIDW) --out-file $(ABI_BASE) $(SO)
	@echo "wrote $(ABI_BASE): commit it with the change that made it"

docs:
	docs/api.sh $(BUILD)/docs

install: $(BIN) $(LIB) $(SO)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/ringtrain $(DESTDIR)$(PREFIX)/share/ringtrain/configs \
	  $(DESTDIR)$(PREFIX)/share/ringtrain/slurm $(DESTDIR)$(PREFIX)/share/ringtrain/jobs
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libringtrain.so
	install -m 644 include/ringtrain/*.h $(DESTDIR)$(PREFIX)/include/ringtrain/
	install -m 644 configs/*.json $(DESTDIR)$(PREFIX)/share/ringtrain/configs/
	install -m 755 slurm/*.sh slurm/*.sbatch $(DESTDIR)$(PREFIX)/share/ringtrain/slurm/
	install -m 755 $(filter-out jobs/restart_lib.sh,$(wildcard jobs/*.sh)) $(DESTDIR)$(PREFIX)/share/ringtrain/jobs/
	install -m 644 jobs/restart_lib.sh $(DESTDIR)$(PREFIX)/share/ringtrain/jobs/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(shell sed -n 's/.*RT_VERSION "\(.*\)"/\1/p' include/ringtrain/common.h)|' \
	  ringtrain.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringtrain.pc

clean:
	rm -rf $(BUILD)

-include $(shell find $(OBJDIR) -name '*.d' 2>/dev/null)
