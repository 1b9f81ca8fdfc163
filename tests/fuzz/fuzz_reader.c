/* libFuzzer target: arbitrary bytes through the trace reader, then (when they parse) the profile
 * model and every reporter, with symbolization off so no file is opened. Must never crash, leak or
 * read out of bounds. Build: make fuzz (tests/fuzz/fuzz.mk), clang -fsanitize=fuzzer,address,undefined. */
#include <stdint.h>
#include <stdio.h>

#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	struct dt_trace *t = NULL;
	struct dt_symbolizer *sym = NULL;
	struct dt_profile *p = NULL;
	struct dt_report_opts o;
	char err[DT_READ_ERR_BYTES];

	if (!sink)
		sink = fopen("/dev/null", "w");
	if (dt_trace_read_mem(data, size, &t, err, sizeof(err)) != DT_READ_OK)
		return 0;
	dt_report_opts_default(&o);
	o.threshold_pct = 0.0; /* every function is a bottleneck: more code under test */
	if (dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym) == 0 && dt_profile_build(t, sym, &p) == 0 && sink) {
		dt_report_text(sink, p, &o);
		dt_report_json(sink, p, &o);
		dt_report_markdown(sink, p, &o);
		dt_report_folded(sink, p, &o);
		dt_report_pprof(sink, p, &o);
		o.metric = DT_METRIC_ALLOC_BYTES;
		dt_report_svg(sink, p, &o);
		o.metric = DT_METRIC_CPU;
		dt_report_html(sink, p, &o);
	}
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	return 0;
}
