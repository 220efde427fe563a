# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# What `make install` puts on a system, and the artefacts only an install
# needs: libtapflow.so (its own -fPIC objects, a SONAME and an exported-symbol
# list), the CLI linked against it, tapflow.pc, the man page, bash completion
# and the exporter's systemd unit. Included by the Makefile, which keeps
# building and testing with the static archive; the Debian package
# (debian/rules) calls `make install` with Debian's paths.
#
#   make install PREFIX=/usr/local DESTDIR=/tmp/root
#
# The CLI goes to sbin: every command but --help and version needs root or
# CAP_BPF/CAP_NET_ADMIN (pins are root's 0600 files), which is what sbin and
# man section 8 say to an administrator.

PREFIX         ?= /usr/local
DESTDIR        ?=
SBINDIR        ?= $(PREFIX)/sbin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SCDOC          ?= scdoc

# ABI: the SONAME's number changes when a public struct or signature does
# (docs in user/libtapflow.map); the rest is the file's own version.
SOVERSION := 0
LIBFILE   := libtapflow.so.$(SOVERSION).1.0

LIB_PIC_OBJS := $(patsubst user/%.c,$(OUTPUT)/pic/user/%.o,$(LIB_SRCS))
# tapflow.h and every header it includes with "...", transitively: the
# installed API (tests/integration/test_install.sh compiles against it).
PUB_HDRS := $(shell scripts/public-headers.sh include/tapflow.h)
MAN_SRCS := $(wildcard docs/man/*.scd)
MANS     := $(patsubst docs/man/%.scd,$(OUTPUT)/man/%,$(MAN_SRCS))
SYSTEMD_UNITS := tapflow-exporter.service tapflow-fleet.service

# Files made from the paths (tapflow.pc, the unit) depend on this stamp,
# rewritten only when a path, the version or LDLIBS changed: `make` then
# `make install PREFIX=/usr` must not install a /usr/local tapflow.pc.
INSTALL_VARS := $(PREFIX) $(SBINDIR) $(LIBDIR) $(INCLUDEDIR) $(VERSION) $(LDLIBS)
$(shell mkdir -p $(OUTPUT) && [ "$$(cat $(OUTPUT)/install-vars 2>/dev/null)" = "$(INSTALL_VARS)" ] || \
	echo "$(INSTALL_VARS)" > $(OUTPUT)/install-vars)

$(OUTPUT)/install-vars:	# after a `make clean` in the same run
	$(Q)mkdir -p $(@D) && echo "$(INSTALL_VARS)" > $@

# tapflow.pc's paths, each relative to ${prefix} when it lies under PREFIX.
pc_rel = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}$(patsubst $(PREFIX)%,%,$(1)),$(1))

.PHONY: install uninstall shared man deb symbol-map

shared: $(OUTPUT)/libtapflow.so $(OUTPUT)/shared/tapflow $(OUTPUT)/tapflow.pc \
	$(OUTPUT)/tapflow.bash $(addprefix $(OUTPUT)/,$(SYSTEMD_UNITS)) $(MANS)

$(OUTPUT)/pic/user $(OUTPUT)/shared $(OUTPUT)/man:
	$(Q)mkdir -p $@

$(OUTPUT)/pic/user/%.o: user/%.c $(HDRS) $(SKELS) | $(OUTPUT)/pic/user
	$(call msg,CC-PIC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fPIC -c $< -o $@

# Only the functions of the public headers are exported (the map lists them);
# the library's internal helpers (tf_json_*, tf_nl_*) stay local to it.
$(OUTPUT)/$(LIBFILE): $(LIB_PIC_OBJS) user/libtapflow.map
	$(call msg,LIB,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -shared -fPIC -Wl,-soname,libtapflow.so.$(SOVERSION) \
		-Wl,--version-script=user/libtapflow.map -Wl,--no-undefined \
		$(LIB_PIC_OBJS) $(LDLIBS) -o $@

# Rewrite the map from the archive and the public headers; review the diff.
symbol-map: $(OUTPUT)/libtapflow.a
	$(Q)scripts/gen-symbol-map.sh $< > user/libtapflow.map.tmp && mv user/libtapflow.map.tmp user/libtapflow.map
	$(Q)git diff --stat -- user/libtapflow.map 2>/dev/null || true

$(OUTPUT)/libtapflow.so.$(SOVERSION) $(OUTPUT)/libtapflow.so: $(OUTPUT)/$(LIBFILE)
	$(Q)ln -sf $(LIBFILE) $@

# The installed CLI: the same objects as $(OUTPUT)/tapflow, linked against
# the shared library. The JSON writer is internal to the library (not
# exported), so the CLI links its own copy of it.
$(OUTPUT)/shared/tapflow: $(CLI_OBJS) $(OUTPUT)/user/json.o $(OUTPUT)/libtapflow.so.$(SOVERSION) | $(OUTPUT)/shared
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(CLI_OBJS) $(OUTPUT)/user/json.o \
		$(OUTPUT)/libtapflow.so.$(SOVERSION) $(LDLIBS) -o $@

$(OUTPUT)/tapflow.pc: tapflow.pc.in mk/install.mk $(OUTPUT)/install-vars
	$(call msg,GEN,$@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' \
		-e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|' \
		-e 's|@VERSION@|$(VERSION)|' \
		-e 's|@LIBS_PRIVATE@|$(LDLIBS)|' $< > $@

$(OUTPUT)/man/%: docs/man/%.scd | $(OUTPUT)/man
	$(call msg,SCDOC,$@)
	$(Q)$(SCDOC) < $< > $@

# `tapflow completion bash` prints the script from the CLI's own table; a
# CLI without that command gets one made from its --help output instead.
$(OUTPUT)/tapflow.bash: $(OUTPUT)/tapflow scripts/gen-completion.sh
	$(call msg,GEN,$@)
	$(Q)if $(OUTPUT)/tapflow completion bash > $@.tmp 2>/dev/null && [ -s $@.tmp ]; then \
		mv $@.tmp $@; else rm -f $@.tmp; scripts/gen-completion.sh $(OUTPUT)/tapflow > $@; fi

$(addprefix $(OUTPUT)/,$(SYSTEMD_UNITS)): $(OUTPUT)/%: packaging/%.in mk/install.mk $(OUTPUT)/install-vars
	$(call msg,GEN,$@)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' $< > $@

install: shared $(OUTPUT)/libtapflow.a
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/tapflow $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DATADIR)/tapflow/dashboards
	$(Q)install -m 0755 $(OUTPUT)/shared/tapflow $(DESTDIR)$(SBINDIR)/tapflow
	$(Q)install -m 0644 $(OUTPUT)/$(LIBFILE) $(OUTPUT)/libtapflow.a $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf $(LIBFILE) $(DESTDIR)$(LIBDIR)/libtapflow.so.$(SOVERSION)
	$(Q)ln -sf libtapflow.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libtapflow.so
	$(Q)install -m 0644 $(PUB_HDRS) $(DESTDIR)$(INCLUDEDIR)/tapflow/
	$(Q)install -m 0644 $(OUTPUT)/tapflow.pc $(DESTDIR)$(PKGCONFIGDIR)/
	$(Q)install -m 0644 $(filter %.8,$(MANS)) $(DESTDIR)$(MANDIR)/man8/
	$(Q)install -m 0644 $(OUTPUT)/tapflow.bash $(DESTDIR)$(BASHCOMPDIR)/tapflow
	$(Q)install -m 0644 $(addprefix $(OUTPUT)/,$(SYSTEMD_UNITS)) $(DESTDIR)$(SYSTEMDUNITDIR)/
	$(Q)install -m 0644 dashboards/*.json $(DESTDIR)$(DATADIR)/tapflow/dashboards/
	$(Q)if [ -d rules ]; then install -d $(DESTDIR)$(DATADIR)/tapflow/rules && \
		cp -R --no-preserve=ownership rules/. $(DESTDIR)$(DATADIR)/tapflow/rules/ && \
		chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/tapflow/rules; fi

uninstall:
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/tapflow $(DESTDIR)$(LIBDIR)/libtapflow.so* \
		$(DESTDIR)$(LIBDIR)/libtapflow.a $(DESTDIR)$(PKGCONFIGDIR)/tapflow.pc \
		$(patsubst $(OUTPUT)/man/%,$(DESTDIR)$(MANDIR)/man8/%,$(filter %.8,$(MANS))) \
		$(DESTDIR)$(BASHCOMPDIR)/tapflow $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(SYSTEMD_UNITS))
	$(Q)rm -rf $(DESTDIR)$(INCLUDEDIR)/tapflow $(DESTDIR)$(DATADIR)/tapflow

# The Debian packages, built as a user would: from a fresh clone of this
# commit, by dpkg-buildpackage, then checked by lintian (scripts/build-deb.sh).
deb: setup
	$(Q)scripts/build-deb.sh
