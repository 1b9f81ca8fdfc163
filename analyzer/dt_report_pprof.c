/* gzip-compressed pprof profile.proto reporter. Placeholder until the reporter lands: says so and fails. */
#include <stdio.h>

#include "dt_report.h"

int dt_report_pprof(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	(void)out;
	(void)p;
	(void)o;
	fputs("deiatrace-analyze: --format pprof is not implemented yet\n", stderr);
	return -1;
}
