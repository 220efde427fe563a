# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tapflow build. Every bpf/*.bpf.c becomes a CO-RE object and a skeleton
# (bpf/NAME/ holds the parts that bpf/NAME.bpf.c includes, if it has any),
# user/*.c (but the CLI's main) becomes libtapflow.a, and the tapflow CLI is a
# thin layer over it. Test programs (tests/*.c, tests/unit/*.c) and test BPF
# programs (tests/progs/*.bpf.c) are built the same way. All output goes to
# $(OUTPUT); quiet unless V=1.
#
# CFLAGS and LDFLAGS are the caller's (make CFLAGS='-O1 -g' replaces only the
# optimisation and debug flags); what the build needs whatever they say
# (warnings, standard, include paths, defines) is in TF_CFLAGS. SANITIZE=1 on
# any target builds everything with ASan, UBSan and LSan; objects are
# rebuilt whenever the flags change ($(OUTPUT)/.build-flags). `make fuzz`
# builds the libFuzzer harnesses (tests/fuzz/, clang) and runs each for
# FUZZ_SECONDS; `make check` runs each briefly.

OUTPUT  ?= build
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

CFLAGS  ?= -g -O2
TF_CFLAGS := -Wall -Wextra -Werror -Wno-missing-field-initializers -std=gnu11 -D_GNU_SOURCE \
	   -Iinclude -I$(OUTPUT)
ifeq ($(SANITIZE),1)
# Every UBSan report is fatal, so a suite cannot pass over one.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif
ALL_CFLAGS  = $(TF_CFLAGS) $(CFLAGS) $(SAN_FLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SAN_FLAGS)
LDLIBS  := -lpcap -lxdp -lbpf -lelf -lz -lmicrohttpd -lgnutls -lyaml -lcrypt -lpthread -lm

# Rebuild everything when the compiler or its flags change (the version
# string is left out: it changes with every edit and only core.o has it).
FLAGS_STAMP := $(OUTPUT)/.build-flags
BUILD_FLAGS := $(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LDLIBS)
ifneq ($(file <$(FLAGS_STAMP)),$(BUILD_FLAGS))
$(shell mkdir -p $(OUTPUT))
$(file >$(FLAGS_STAMP),$(BUILD_FLAGS))
endif
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	   -I. -Iinclude -Ibpf

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# libFuzzer harnesses: clang, with the library built again with coverage.
FUZZ_CC    ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = $(filter-out -Werror,$(TF_CFLAGS)) -g -O1 -fno-omit-frame-pointer \
	   -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
TPROG_SRCS := $(wildcard tests/progs/*.bpf.c)
TSKELS     := $(patsubst tests/progs/%.bpf.c,$(OUTPUT)/tests/%.skel.h,$(TPROG_SRCS))
CLI_SRCS   := user/tapflow.c $(wildcard user/cli_*.c)
CLI_OBJS   := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(CLI_SRCS))
LIB_SRCS   := $(filter-out $(CLI_SRCS),$(wildcard user/*.c))
LIB_OBJS   := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(LIB_SRCS))
TOOL_SRCS  := $(wildcard tests/*.c)
TOOLS      := $(patsubst tests/%.c,$(OUTPUT)/tests/%,$(TOOL_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNITS      := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/unit/%,$(UNIT_SRCS))
HDRS       := $(wildcard include/*.h user/*.h) $(FLAGS_STAMP)
FUZZ_SRCS  := $(wildcard tests/fuzz/*.c)
FUZZERS    := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS  := $(patsubst user/%.c,$(OUTPUT)/fuzz/lib/%.o,$(LIB_SRCS))
BPF_HDRS   := $(wildcard include/*.h bpf/*.h bpf/*/*.h bpf/*/*.bpf.c) vmlinux.h

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean check demo bench vm-check setup unit fuzz fuzz-build faults

all: $(OUTPUT)/tapflow $(TOOLS) $(UNITS)

$(OUTPUT) $(OUTPUT)/user $(OUTPUT)/tests $(OUTPUT)/tests/unit:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp && \
		$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/tests/%.bpf.o: tests/progs/%.bpf.c $(BPF_HDRS) $(wildcard tests/progs/*.h) | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp && \
		$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

%.skel.h: %.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$(notdir $*)) > $@

$(OUTPUT)/user/%.o: user/%.c $(HDRS) $(SKELS) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(if $(filter core,$*),-DTAPFLOW_VERSION='"$(VERSION)"') -c $< -o $@

$(OUTPUT)/libtapflow.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/tapflow: $(CLI_OBJS) $(OUTPUT)/libtapflow.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(CLI_OBJS) $(OUTPUT)/libtapflow.a $(LDLIBS) -o $@

# Test tools see the library's internal headers (user/) too: a benchmark's
# floor decides what tracing decides, with tracing's own code (tf-empty-trace).
$(OUTPUT)/tests/%: tests/%.c $(wildcard tests/*.h tests/progs/*.h) $(OUTPUT)/libtapflow.a $(HDRS) $(TSKELS) | $(OUTPUT)/tests
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -I$(OUTPUT)/tests -Iuser $< $(OUTPUT)/libtapflow.a $(LDLIBS) -o $@

$(OUTPUT)/tests/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUTPUT)/libtapflow.a $(HDRS) $(TSKELS) | $(OUTPUT)/tests/unit
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -I$(OUTPUT)/tests $< $(OUTPUT)/libtapflow.a $(LDLIBS) -o $@

$(OUTPUT)/fuzz/lib/%.o: user/%.c $(HDRS) $(SKELS)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D) && $(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(OUTPUT)/fuzz/libtapflow.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(OUTPUT)/fuzz/libtapflow.a
	$(call msg,FUZZER,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -Iuser $< $(OUTPUT)/fuzz/libtapflow.a \
		$(LDLIBS) -o $@

# The harnesses, where clang has libFuzzer (tests/fuzz/run.sh skips them if not).
fuzz-build:
	$(Q)if echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' | \
		$(FUZZ_CC) -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then \
		$(MAKE) --no-print-directory $(FUZZERS); \
	else echo "  $(FUZZ_CC) has no libFuzzer: fuzz harnesses not built"; fi

fuzz: fuzz-build
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS)

# test_cli compiles the CLI's dispatcher, help and completion sources in.
$(OUTPUT)/tests/unit/test_cli: user/cli_opts.c user/cli_help.c user/cli_complete.c

setup:
	$(Q)scripts/setup.sh

# The two commands a fresh machine needs. Each installs what it needs first.
demo: setup
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

# Under SANITIZE=1 a sanitizer report fails the test it happens in (ASan
# and LSan exit non-zero, UBSan aborts); the VM lane is left out (its guest
# has no sanitizer runtime).
SAN_ENV := $(if $(SAN_FLAGS),ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TF_VM=0)

# The VM lane is part of the suite, so check installs its packages too.
check:
	$(Q)scripts/setup.sh $(if $(filter 0,$(TF_VM))$(SAN_FLAGS),,--vm)
	$(Q)$(MAKE) --no-print-directory all fuzz-build
	$(Q)$(SAN_ENV) tests/run.sh

# The fault tier, longer than make check's pass: more kill points per command.
faults: all
	$(Q)TF_FAULT_ROUNDS=$${TF_FAULT_ROUNDS:-12} tests/run.sh --no-vm --filter '^test_faults$$'

unit: all
	$(Q)tests/run.sh --unit-only

bench: setup
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench.sh

vm-check:
	$(Q)scripts/setup.sh --vm
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/vm-check.sh

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

include mk/install.mk
