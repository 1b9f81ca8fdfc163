/* Flame graphs (analyzer/dt_report_svg.c): call paths merged by function, root first, weighted by one
 * metric, drawn as one self-contained SVG. The HTML reporter embeds the same SVG and shares the text
 * escaper, so every name that reaches a page passes through dt_xml_put_text. */
#ifndef DT_FLAME_H
#define DT_FLAME_H

#include <stddef.h>
#include <stdio.h>

#include "dt_profile.h"
#include "dt_report.h"

/* Longest name (in characters) written into a page: a hostile 1 MB symbol must not make every frame
 * and table row a megabyte. Longer names end in U+2026. */
#define DT_FLAME_NAME_MAX_CHARS 4096u

/* Writes s as XML/HTML character data, safe in element content and in quoted attributes: & < > " '
 * as references, C0 controls and DEL as their visible U+2400 pictures (an ESC shows as U+241B), C1
 * controls, U+FFFE/U+FFFF and invalid UTF-8 as U+FFFD. At most max_chars characters, then U+2026. */
void dt_xml_put_text(FILE *out, const char *s, size_t max_chars);

/* 1 when p holds data for m: CPU always (maybe no samples), memory metrics only when the trace
 * tracked allocations. */
int dt_flame_has_metric(const struct dt_profile *p, enum dt_metric m);

/* The flame graph of metric m. standalone: 1 writes an XML document (declaration and all), 0 an <svg>
 * element to embed in an HTML page (several may share a page: ids are never used). 0, or -1 when
 * memory ran out or writing failed. Callers check dt_flame_has_metric first. */
int dt_flame_svg(FILE *out, const struct dt_profile *p, enum dt_metric m, int standalone);

#endif
