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

# pkg-config for the regions header: Cflags only, no Libs (the calls are weak; the shim is preloaded).
PCDIR = $(LIBDIR)/pkgconfig
$(B)/deiatrace.pc: Makefile
	@mkdir -p $(@D)
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'includedir=$${prefix}/include' '' 'Name: deiatrace' \
	  'Description: deiatrace named regions (include/deiatrace.h); run under deiatrace record to measure them' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}' >$@

install: all $(B)/deiatrace.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGLIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PCDIR)
	install -m 755 $(ANALYZER) $(DESTDIR)$(BINDIR)/
	if [ -f $(FRONTEND) ]; then install -m 755 $(FRONTEND) $(DESTDIR)$(BINDIR)/; fi
	install -m 755 $(SHIM) $(DESTDIR)$(PKGLIBDIR)/
	install -m 644 include/deiatrace.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(B)/deiatrace.pc $(DESTDIR)$(PCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/deiatrace-analyze $(DESTDIR)$(BINDIR)/deiatrace
	rm -f $(DESTDIR)$(PKGLIBDIR)/libdeiatrace.so $(DESTDIR)$(INCLUDEDIR)/deiatrace.h
	rm -f $(DESTDIR)$(PCDIR)/deiatrace.pc
	-rmdir $(DESTDIR)$(PKGLIBDIR)

clean:
	rm -rf $(B) build-asan build-ubsan

.PHONY: all deps demo install uninstall clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
