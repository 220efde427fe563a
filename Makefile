# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# tapflow build. Every bpf/*.bpf.c becomes a CO-RE object and a skeleton,
# user/*.c (but the CLI's main) becomes libtapflow.a, and the tapflow CLI is a
# thin layer over it. Test programs (tests/*.c, tests/unit/*.c) and test BPF
# programs (tests/progs/*.bpf.c) are built the same way. All output goes to
# $(OUTPUT); quiet unless V=1.

OUTPUT  ?= build
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

CFLAGS  ?= -g -O2
CFLAGS  += -Wall -Wextra -Werror -Wno-missing-field-initializers -std=gnu11 -D_GNU_SOURCE -Iinclude -I$(OUTPUT) \
	   -DTAPFLOW_VERSION='"$(VERSION)"'
LDLIBS  := -lxdp -lbpf -lelf -lz -lmicrohttpd -lgnutls -lyaml -lcrypt -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	   -I. -Iinclude -Ibpf

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

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
HDRS       := $(wildcard include/*.h user/*.h)
BPF_HDRS   := $(wildcard include/*.h bpf/*.h) vmlinux.h

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all clean check demo bench vm-check setup unit

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
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/libtapflow.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUTPUT)/tapflow: $(CLI_OBJS) $(OUTPUT)/libtapflow.a
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $(CLI_OBJS) $(OUTPUT)/libtapflow.a $(LDLIBS) -o $@

$(OUTPUT)/tests/%: tests/%.c $(wildcard tests/*.h tests/progs/*.h) $(OUTPUT)/libtapflow.a $(HDRS) $(TSKELS) | $(OUTPUT)/tests
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) -I$(OUTPUT)/tests $< $(OUTPUT)/libtapflow.a $(LDLIBS) -o $@

$(OUTPUT)/tests/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUTPUT)/libtapflow.a $(HDRS) | $(OUTPUT)/tests/unit
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit $< $(OUTPUT)/libtapflow.a $(LDLIBS) -o $@

# test_cli compiles the CLI's dispatcher, help and completion sources in.
$(OUTPUT)/tests/unit/test_cli: user/cli_opts.c user/cli_help.c user/cli_complete.c

setup:
	$(Q)scripts/setup.sh

# The two commands a fresh machine needs. Each installs what it needs first.
demo: setup
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

# The VM lane is part of the suite, so check installs its packages too.
check:
	$(Q)scripts/setup.sh $(if $(filter 0,$(TF_VM)),,--vm)
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/run.sh

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
