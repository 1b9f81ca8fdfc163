# Test build rules, included by the top-level Makefile.
#   tests/programs/*.c, *.cpp   workloads with known truth -> $(B)/tests/programs/NAME
#     instr_*.c are built with -finstrument-functions; all link the bundled libdtshared.so
#   tests/unit/check_analyzer_*.c  Check suites linked with the analyzer library
#   tests/unit/check_preload_*.c   Check suites linked with the shim's non-interposing objects
#   tests/fuzz/*.c                 fuzz targets (make fuzz)

TP = $(B)/tests/programs
TEST_PROG_C := $(filter-out tests/programs/instr_%.c,$(wildcard tests/programs/*.c))
TEST_PROG_INSTR := $(wildcard tests/programs/instr_*.c)
TEST_PROG_CXX := $(wildcard tests/programs/*.cpp)
TEST_PROGS := $(TEST_PROG_C:tests/programs/%.c=$(TP)/%) \
              $(TEST_PROG_INSTR:tests/programs/%.c=$(TP)/%) \
              $(TEST_PROG_CXX:tests/programs/%.cpp=$(TP)/%)
TEST_SHLIB = $(TP)/libdtshared.so
# Test programs keep frame pointers off on purpose: the shim must unwind through DWARF CFI alone.
TEST_PROG_CFLAGS = -O2 -g -fomit-frame-pointer -pthread -I. -Iinclude
TEST_PROG_LIBS = -L$(TP) -ldtshared -Wl,-rpath,'$$ORIGIN' -ldl -lm

$(TEST_SHLIB): $(wildcard tests/programs/lib/*.c)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_PROG_CFLAGS) -fPIC -shared -o $@ $^

$(TP)/instr_%: tests/programs/instr_%.c $(TEST_SHLIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_PROG_CFLAGS) -finstrument-functions -o $@ $< $(TEST_PROG_LIBS)

$(TP)/%: tests/programs/%.c $(TEST_SHLIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_PROG_CFLAGS) -o $@ $< $(TEST_PROG_LIBS)

$(TP)/%: tests/programs/%.cpp $(TEST_SHLIB)
	@mkdir -p $(@D)
	$(Q)$(CXX) $(TEST_PROG_CFLAGS) -std=gnu++17 -o $@ $< $(TEST_PROG_LIBS)

# ---- unit tests (Check, fork mode)
UNIT_ANALYZER_SRCS := $(wildcard tests/unit/check_analyzer_*.c)
UNIT_PRELOAD_SRCS := $(wildcard tests/unit/check_preload_*.c)
UNIT_TESTS := $(UNIT_ANALYZER_SRCS:tests/unit/%.c=$(B)/tests/unit/%) \
              $(UNIT_PRELOAD_SRCS:tests/unit/%.c=$(B)/tests/unit/%)
# Shim objects that interpose nothing and so can be linked into a plain test executable (dt_fatal
# calls into dt_lifecycle).
PRELOAD_UNIT_OBJS ?= $(filter-out $(B)/preload/dt_malloc.o $(B)/preload/dt_lifecycle.o $(B)/preload/dt_fatal.o \
                       $(B)/preload/dt_thread.o $(B)/preload/dt_dlsafe.o $(B)/preload/dt_dlhooks.o $(B)/preload/dt_calls.o,$(PRELOAD_OBJS))

$(B)/tests/unit/check_analyzer_%: tests/unit/check_analyzer_%.c $(ANALYZER_LIB)
	@mkdir -p $(@D)
	$(Q)$(CC) $(DT_CFLAGS) $(DW_CFLAGS) $(CHECK_CFLAGS) -Ianalyzer -o $@ $< $(ANALYZER_LIB) $(LDFLAGS) $(ANALYZER_LIBS) $(CHECK_LIBS)

$(B)/tests/unit/check_preload_%: tests/unit/check_preload_%.c $(PRELOAD_OBJS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(DT_CFLAGS) $(UNWIND_CFLAGS) $(CHECK_CFLAGS) -Ipreload -o $@ $< $(PRELOAD_UNIT_OBJS) $(LDFLAGS) $(UNWIND_LIBS) -lz -ldl -lpthread -lrt $(CHECK_LIBS)

# ---- fuzz target for the trace reader (clang libFuzzer), plus a plain driver for replaying a corpus
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)

tests: all $(TEST_SHLIB) $(TEST_PROGS) $(UNIT_TESTS)

check: deps
	@$(MAKE) --no-print-directory tests
	@tests/run.sh $(B)

.PHONY: tests check
