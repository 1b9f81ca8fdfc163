# Benchmarks: overhead of the shim, measured against an untraced run and peers in one run.
bench: all tests
	@bench/run.sh $(B)
.PHONY: bench
