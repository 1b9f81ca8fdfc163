# Fuzzing the trace reader (include from the top-level Makefile after tests/tests.mk).
#   make fuzz          libFuzzer + ASan + UBSan build of tests/fuzz/fuzz_reader.c, run FUZZ_SECONDS
#   make fuzz-replay   replay tests/fuzz/corpus/ through the same target with gcc + ASan (no clang needed)
#   make fuzz-corpus   regenerate the seed corpus with tests/fuzz/tools/gen_corpus.c
# The analyzer sources are compiled into the fuzzer directly: libFuzzer needs them instrumented.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR = $(B)/tests/fuzz
FUZZ_CORPUS = tests/fuzz/corpus
FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_INC = -I. -Icommon -Iinclude -Ianalyzer -DDT_VERSION='"$(VERSION)"'
# The conventional libFuzzer/OSS-Fuzz switch: the reader skips crc32 checks so mutations reach the
# section parsers (a fuzzer cannot forge checksums). Never set in normal builds.
FUZZ_MODE = -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_ANALYZER_SRCS = $(filter-out analyzer/main.c,$(wildcard analyzer/*.c))

$(FUZZ_DIR)/fuzz_reader: tests/fuzz/fuzz_reader.c $(FUZZ_ANALYZER_SRCS)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -std=gnu11 -g -O1 $(FUZZ_SAN) $(FUZZ_MODE) $(FUZZ_INC) $(DW_CFLAGS) -o $@ $^ $(ANALYZER_LIBS)

$(FUZZ_DIR)/fuzz_replay: tests/fuzz/fuzz_reader.c tests/fuzz/tools/replay.c $(FUZZ_ANALYZER_SRCS)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined $(WARN) \
		$(FUZZ_MODE) $(FUZZ_INC) $(DW_CFLAGS) -o $@ $^ $(ANALYZER_LIBS)

$(FUZZ_DIR)/gen_corpus: tests/fuzz/tools/gen_corpus.c tests/unit/check_analyzer_encoder.h common/dt_format.h
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O1 $(WARN) $(FUZZ_INC) -o $@ $< -lz

fuzz-corpus: $(FUZZ_DIR)/gen_corpus
	@mkdir -p $(FUZZ_CORPUS)
	$(FUZZ_DIR)/gen_corpus $(FUZZ_CORPUS)

fuzz-replay: $(FUZZ_DIR)/fuzz_replay
	$(FUZZ_DIR)/fuzz_replay $(FUZZ_CORPUS)/*

# Runs on a scratch copy so new inputs do not land in the source tree.
fuzz: $(FUZZ_DIR)/fuzz_reader
	@rm -rf $(FUZZ_DIR)/corpus && mkdir -p $(FUZZ_DIR)/corpus && cp $(FUZZ_CORPUS)/* $(FUZZ_DIR)/corpus/
	$(FUZZ_DIR)/fuzz_reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus

.PHONY: fuzz fuzz-replay fuzz-corpus
