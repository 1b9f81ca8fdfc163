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
