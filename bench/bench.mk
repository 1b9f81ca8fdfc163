# Benchmarks: overhead of the shim, measured against an untraced run and peers in one run.
bench: all tests
	@bench/run.sh $(B)
.PHONY: bench

# calls_bench.sh: the same loop built with and without -finstrument-functions.
BENCH_CALLS = $(B)/bench/calls_loop $(B)/bench/calls_loop_plain
$(B)/bench/calls_loop: bench/calls_loop.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -finstrument-functions -o $@ $<

$(B)/bench/calls_loop_plain: bench/calls_loop.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g $(WARN) -o $@ $<

bench: $(BENCH_CALLS)

# malloc_bench.sh: malloc/free loops, a C++ std::map workload and a python3 script, untraced vs
# deiatrace vs heaptrack vs the tcmalloc heap profiler.
BENCH_MALLOC = $(B)/bench/malloc_loop $(B)/bench/malloc_map
$(B)/bench/malloc_loop: bench/malloc_loop.c
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -pthread -o $@ $<

$(B)/bench/malloc_map: bench/malloc_map.cpp
	@mkdir -p $(@D)
	$(Q)$(CXX) -O2 -g -std=gnu++17 -o $@ $<

bench: $(BENCH_MALLOC)
