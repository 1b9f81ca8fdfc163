# deiatrace — plain Makefile, out-of-tree build in $(B)/, automatic header dependencies.
#   make            build/libdeiatrace.so, build/deiatrace-analyze, build/deiatrace
#   make demo       install missing packages, build, profile the bundled demo, print its report
#   make check      install missing packages, build, run every test (unit, integration, sanitizers, fuzz)
#   make bench      overhead benchmarks (traced vs untraced, peers where installed)
#   make asan|ubsan analyzer + unit tests under AddressSanitizer / UndefinedBehaviorSanitizer
#   V=1 for verbose commands; CI=true adds -Werror.

B ?= build
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib
PKGLIBDIR = $(LIBDIR)/deiatrace
INCLUDEDIR = $(PREFIX)/include
VERSION = 0.1.0

CC ?= cc
CXX ?= c++
PKG_CONFIG ?= pkg-config

WARN = -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(CI),true)
WARN += -Werror
endif
OPT ?= -O2 -g
CFLAGS ?=
LDFLAGS ?=
DT_CFLAGS = -std=gnu11 $(OPT) $(WARN) -I. -Icommon -Iinclude -MMD -MP -DDT_VERSION='"$(VERSION)"' $(CFLAGS)

UNWIND_CFLAGS := $(shell $(PKG_CONFIG) --cflags libunwind 2>/dev/null)
UNWIND_LIBS := $(shell $(PKG_CONFIG) --libs libunwind 2>/dev/null || echo -lunwind)
DW_CFLAGS := $(shell $(PKG_CONFIG) --cflags libdw libelf zlib 2>/dev/null)
DW_LIBS := $(shell $(PKG_CONFIG) --libs libdw libelf zlib 2>/dev/null || echo -ldw -lelf -lz)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

ifeq ($(V),1)
Q =
else
Q = @
endif

# ---------------------------------------------------------------- the shim
PRELOAD_SRCS := $(wildcard preload/*.c)
PRELOAD_OBJS := $(PRELOAD_SRCS:%.c=$(B)/%.o)
SHIM_CFLAGS = -fPIC -fvisibility=hidden -ftls-model=initial-exec -fno-omit-frame-pointer $(UNWIND_CFLAGS)
SHIM = $(B)/libdeiatrace.so

$(B)/preload/%.o: preload/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(DT_CFLAGS) $(SHIM_CFLAGS) -c $< -o $@

$(SHIM): $(PRELOAD_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $^ $(LDFLAGS) -Wl,--no-undefined -Wl,-z,nodelete $(UNWIND_LIBS) -lz -ldl -lpthread -lrt

# ---------------------------------------------------------------- the analyzer
ANALYZER_SRCS := $(filter-out analyzer/main.c,$(wildcard analyzer/*.c))
ANALYZER_OBJS := $(ANALYZER_SRCS:%.c=$(B)/%.o)
ANALYZER_LIB = $(B)/libdtanalyze.a
ANALYZER_LIBS = $(DW_LIBS) -lstdc++ -lm
ANALYZER = $(B)/deiatrace-analyze

$(B)/analyzer/%.o: analyzer/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(DT_CFLAGS) $(DW_CFLAGS) -c $< -o $@

$(ANALYZER_LIB): $(ANALYZER_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(ANALYZER): $(B)/analyzer/main.o $(ANALYZER_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(ANALYZER_LIBS)

# ---------------------------------------------------------------- the front end
FRONTEND = $(B)/deiatrace
FRONTEND_SRCS := $(wildcard frontend/*.c)
$(B)/frontend/%.o: frontend/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(DT_CFLAGS) -c $< -o $@

ifneq ($(FRONTEND_SRCS),)
$(FRONTEND): $(FRONTEND_SRCS:%.c=$(B)/%.o) $(ANALYZER_LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDFLAGS) $(ANALYZER_LIBS)
else
$(FRONTEND):
	@true
endif

all: $(SHIM) $(ANALYZER) $(FRONTEND)
.DEFAULT_GOAL := all

# ---------------------------------------------------------------- tests
include tests/tests.mk
include tests/fuzz/fuzz.mk
include tests/real/real.mk
include bench/bench.mk

deps:
	@scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all $(B)/tests/programs/demo
	@scripts/demo.sh $(B)

# ---------------------------------------------------------------- install
# `make install` copies an already built tree and never rebuilds it (it may run as root after a build
# as a user, or against a build dir while the sources change); it runs `all` only when an artifact is
# missing. The shim goes to a private directory (Debian's habit for LD_PRELOAD libraries), where
# $(BINDIR)/deiatrace finds it as ../lib/deiatrace/ from its own path. The pkg-config file is written
# at install time so its prefix is the one installed to: Cflags only, no Libs (the region calls are
# weak references; the shim is preloaded, never linked).
PCDIR = $(LIBDIR)/pkgconfig
MANDIR = $(PREFIX)/share/man
DOCDIR = $(PREFIX)/share/doc/deiatrace
INSTALL ?= install
MAN1_PAGES = man/deiatrace.1 man/deiatrace-analyze.1
MAN7_PAGES = man/libdeiatrace.7
DOC_TOP = README.md
DOC_PAGES = $(wildcard docs/*.md)
INSTALL_BUILT = $(SHIM) $(ANALYZER) $(FRONTEND)
# `all` first when an artifact is missing, or when asked for too (`make -j all install`).
INSTALL_NEEDS = $(if $(filter all,$(MAKECMDGOALS))$(filter-out $(wildcard $(INSTALL_BUILT)),$(INSTALL_BUILT)),all)

install: $(INSTALL_NEEDS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PCDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DOCDIR)/docs
	$(INSTALL) -m 755 $(ANALYZER) $(FRONTEND) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 755 $(SHIM) $(DESTDIR)$(PKGLIBDIR)/
	$(INSTALL) -m 644 include/deiatrace.h $(DESTDIR)$(INCLUDEDIR)/
	rm -f $(DESTDIR)$(PCDIR)/deiatrace.pc
	printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' '' 'Name: deiatrace' \
	  'Description: deiatrace named regions (deiatrace.h); no library: run under deiatrace record to measure them' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}' >$(DESTDIR)$(PCDIR)/deiatrace.pc
	chmod 644 $(DESTDIR)$(PCDIR)/deiatrace.pc
	$(INSTALL) -m 644 $(MAN1_PAGES) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 644 $(MAN7_PAGES) $(DESTDIR)$(MANDIR)/man7/
	$(INSTALL) -m 644 $(DOC_TOP) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 $(DOC_PAGES) $(DESTDIR)$(DOCDIR)/docs/

# Removes what install wrote, and the two directories only deiatrace uses when they are left empty.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/deiatrace-analyze $(DESTDIR)$(BINDIR)/deiatrace
	rm -f $(DESTDIR)$(PKGLIBDIR)/libdeiatrace.so
	rm -f $(DESTDIR)$(INCLUDEDIR)/deiatrace.h $(DESTDIR)$(PCDIR)/deiatrace.pc
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1_PAGES)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7_PAGES)))
	rm -f $(DESTDIR)$(DOCDIR)/$(DOC_TOP) $(addprefix $(DESTDIR)$(DOCDIR)/docs/,$(notdir $(DOC_PAGES)))
	for d in $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR); do \
	  if [ -d "$$d" ]; then rmdir --ignore-fail-on-non-empty "$$d"; fi; done

# The manual pages: any mandoc warning fails (tests/integration/man_pages.sh checks the same).
lint-man:
	mandoc -T lint -W warning $(MAN1_PAGES) $(MAN7_PAGES)

clean:
	rm -rf $(B) build-asan build-ubsan

.PHONY: all deps demo install uninstall lint-man clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
