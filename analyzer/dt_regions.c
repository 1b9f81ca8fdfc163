/* Named regions on the analyzer side (dt_regions.h): finds and parses DT_SEC_REGIONS in a trace file
 * (untrusted: every count and length is bounded by the bytes present; the crc is checked), sums runs
 * by name, and renders the regions section of text, Markdown and JSON reports. */
#include "dt_regions.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dt_reader.h"
#include "dt_report.h"

#define NS_PER_S 1e9
#define REGION_HEADER_BYTES 20u /* u32 flags, u64 dropped, u32 nfields, u32 n */
#define REGION_MAX_FIELDS 1024u /* a sanity bound on nfields */
#define REGION_NAME_COLS 32u

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

void dt_regions_free(struct dt_regions *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++)
		free(r->r[i].name);
	free(r->r);
	free(r);
}

int dt_regions_parse(const uint8_t *p, size_t len, struct dt_regions **out, char *err, size_t errlen)
{
	struct dt_regions *r = calloc(1, sizeof(*r));
	size_t off = REGION_HEADER_BYTES;

	*out = NULL;
	if (!r)
		return fail(err, errlen, DT_READ_ENOMEM, "memory for the regions expected, found none");
	if (len < off) {
		free(r);
		return fail(err, errlen, DT_READ_EFORMAT,
			    "a regions section of at least %u bytes expected, found %zu", REGION_HEADER_BYTES,
			    len);
	}
	r->flags = dt_get_u32(p);
	r->dropped = dt_get_u64(p + 4);
	uint32_t nfields = dt_get_u32(p + 12), n = dt_get_u32(p + 16);
	size_t rec_min = 4u + 8u * (size_t)nfields; /* an empty name and the values */
	if (nfields > REGION_MAX_FIELDS || n > (len - off) / rec_min) {
		free(r);
		return fail(err, errlen, DT_READ_EFORMAT,
			    "at most %u fields and %zu regions in %zu bytes expected, found %" PRIu32
			    " and %" PRIu32,
			    REGION_MAX_FIELDS, (len - off) / rec_min, len, nfields, n);
	}
	r->r = calloc(n ? n : 1, sizeof(*r->r));
	if (!r->r) {
		free(r);
		return fail(err, errlen, DT_READ_ENOMEM,
			    "memory for %" PRIu32 " regions expected, found none", n);
	}
	for (uint32_t i = 0; i < n; i++) {
		if (len - off < 4)
			goto trunc;
		uint32_t sl = dt_get_u32(p + off);
		off += 4;
		if (sl > DT_REGION_NAME_BYTES || len - off < sl + 8u * (size_t)nfields)
			goto trunc;
		char *name = malloc(sl + 1);
		if (!name) {
			dt_regions_free(r);
			return fail(err, errlen, DT_READ_ENOMEM,
				    "memory for a region name expected, found none");
		}
		memcpy(name, p + off, sl);
		name[sl] = '\0';
		off += sl;
		r->r[r->n].name = name;
		for (uint32_t f = 0; f < nfields; f++, off += 8)
			if (f < DT_REGION_NFIELDS)
				r->r[r->n].f[f] = dt_get_u64(p + off);
		r->n++;
	}
	*out = r;
	return 0;
trunc:
	dt_regions_free(r);
	return fail(err, errlen, DT_READ_EFORMAT,
		    "region records within the section expected, found a truncated one");
}

int dt_regions_read_file(const char *path, struct dt_regions **out, char *err, size_t errlen)
{
	uint8_t hdr[DT_SECTION_HEADER_BYTES];
	uint8_t *payload = NULL;
	FILE *f = fopen(path, "rb");
	int rc;

	*out = NULL;
	if (!f)
		return fail(err, errlen, DT_READ_EIO, "a readable trace file expected, found: %s",
			    strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0) {
		rc = fail(err, errlen, DT_READ_EIO, "a seekable file expected, found: %s", strerror(errno));
		goto out;
	}
	long size = ftell(f);
	if (size < (long)DT_FILE_HEADER_BYTES || fseek(f, 0, SEEK_SET) != 0 ||
	    fread(hdr, 1, DT_FILE_HEADER_BYTES, f) != DT_FILE_HEADER_BYTES ||
	    memcmp(hdr, DT_TRACE_MAGIC, DT_TRACE_MAGIC_LEN) != 0) {
		rc = fail(err, errlen, DT_READ_EFORMAT,
			  "a deiatrace file header expected, found something else");
		goto out;
	}
	uint64_t pos = DT_FILE_HEADER_BYTES;
	for (;;) {
		if (fread(hdr, 1, DT_SECTION_HEADER_BYTES, f) != DT_SECTION_HEADER_BYTES)
			break; /* a truncated trace: no regions section, as the reader reports it partial */
		uint32_t id = dt_get_u32(hdr);
		uint64_t n = dt_get_u64(hdr + 8);
		pos += DT_SECTION_HEADER_BYTES;
		if (id == DT_SEC_END || n > (uint64_t)size - pos)
			break;
		if (id != DT_SEC_REGIONS) {
			if (fseek(f, (long)n, SEEK_CUR) != 0)
				break;
			pos += n;
			continue;
		}
		payload = malloc(n ? n : 1);
		if (!payload) {
			rc = fail(err, errlen, DT_READ_ENOMEM,
				  "memory for %" PRIu64 " bytes expected, found none", n);
			goto out;
		}
		if (fread(payload, 1, n, f) != n) {
			rc = fail(err, errlen, DT_READ_EIO,
				  "%" PRIu64 " bytes of regions expected, found fewer", n);
			goto out;
		}
		uLong crc = crc32(0L, Z_NULL, 0);
		for (uint64_t done = 0; done < n;) {
			uInt chunk = n - done > UINT32_MAX ? UINT32_MAX : (uInt)(n - done);
			crc = crc32(crc, payload + done, chunk);
			done += chunk;
		}
		if ((uint32_t)crc != dt_get_u32(hdr + 4)) {
			rc = fail(err, errlen, DT_READ_EFORMAT,
				  "regions section crc32 %08" PRIx32 " expected, found %08lx",
				  dt_get_u32(hdr + 4), (unsigned long)crc);
			goto out;
		}
		rc = dt_regions_parse(payload, n, out, err, errlen);
		goto out;
	}
	*out = calloc(1, sizeof(**out));
	rc = *out ? 0 : fail(err, errlen, DT_READ_ENOMEM, "memory expected, found none");
out:
	free(payload);
	fclose(f);
	return rc;
}

const struct dt_region_stat *dt_regions_find(const struct dt_regions *r, const char *name)
{
	for (uint32_t i = 0; r && i < r->n; i++)
		if (strcmp(r->r[i].name, name) == 0)
			return &r->r[i];
	return NULL;
}

int dt_regions_add(struct dt_regions *a, const struct dt_regions *b)
{
	a->flags |= b->flags;
	a->dropped += b->dropped;
	for (uint32_t i = 0; i < b->n; i++) {
		struct dt_region_stat *s = (struct dt_region_stat *)dt_regions_find(a, b->r[i].name);
		if (!s) {
			struct dt_region_stat *grown = realloc(a->r, (a->n + 1) * sizeof(*grown));
			if (!grown)
				return -1;
			a->r = grown;
			s = &a->r[a->n];
			memset(s, 0, sizeof(*s));
			if (!(s->name = strdup(b->r[i].name)))
				return -1;
			a->n++;
		}
		for (unsigned f = 0; f < DT_REGION_NFIELDS; f++) {
			if (f == DT_REGION_MAX_WALL_NS)
				s->f[f] = b->r[i].f[f] > s->f[f] ? b->r[i].f[f] : s->f[f];
			else
				s->f[f] += b->r[i].f[f];
		}
	}
	return 0;
}

static int cmp_wall(const void *x, const void *y)
{
	const struct dt_region_stat *a = x, *b = y;

	if (a->f[DT_REGION_WALL_NS] != b->f[DT_REGION_WALL_NS])
		return a->f[DT_REGION_WALL_NS] < b->f[DT_REGION_WALL_NS] ? 1 : -1;
	return strcmp(a->name, b->name);
}

void dt_regions_sort(struct dt_regions *r)
{
	if (r && r->n > 1)
		qsort(r->r, r->n, sizeof(*r->r), cmp_wall);
}

static double sec(uint64_t ns)
{
	return (double)ns / NS_PER_S;
}

int dt_regions_report_text(FILE *out, const struct dt_regions *r)
{
	char name[REGION_NAME_COLS + 8], bytes[32];
	int alloc = r->flags & DT_REGIONS_ALLOC_MEASURED;

	if (!r->n && !r->dropped)
		return 0;
	fprintf(out, "\nRegions (include/deiatrace.h; wall and CPU seconds, inclusive of nested regions)\n");
	fprintf(out, "  %-32s %8s %10s %10s %10s %10s %10s %10s\n", "region", "count", "wall s", "self s",
		"cpu s", "max s", "allocs", "bytes");
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;
		fprintf(out, "  %-32s %8" PRIu64 " %10.3f %10.3f %10.3f %10.3f",
			dt_fmt_fit(name, sizeof(name), r->r[i].name, REGION_NAME_COLS), f[DT_REGION_COUNT],
			sec(f[DT_REGION_WALL_NS]), sec(f[DT_REGION_SELF_WALL_NS]), sec(f[DT_REGION_CPU_NS]),
			sec(f[DT_REGION_MAX_WALL_NS]));
		if (alloc)
			fprintf(out, " %10" PRIu64 " %10s\n", f[DT_REGION_ALLOC_CALLS],
				dt_fmt_bytes(bytes, sizeof(bytes), f[DT_REGION_ALLOC_BYTES]));
		else
			fprintf(out, " %10s %10s\n", "-", "-");
	}
	if (r->dropped)
		fprintf(out,
			"  %" PRIu64
			" region begins/ends not recorded (table full, nested too deep, or unmatched)\n",
			r->dropped);
	return ferror(out) ? -1 : 0;
}

int dt_regions_report_markdown(FILE *out, const struct dt_regions *r)
{
	char bytes[32];
	int alloc = r->flags & DT_REGIONS_ALLOC_MEASURED;

	if (!r->n && !r->dropped)
		return 0;
	fprintf(out,
		"\n## Regions\n\n| region | count | wall s | self s | CPU s | max s | allocations | bytes |\n"
		"|---|---:|---:|---:|---:|---:|---:|---:|\n");
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;
		fputs("| `", out);
		for (const char *c = r->r[i].name; *c; c++)
			fputc(*c == '|' || *c == '`' || (unsigned char)*c < 0x20 ? ' ' : *c, out);
		fprintf(out, "` | %" PRIu64 " | %.3f | %.3f | %.3f | %.3f | ", f[DT_REGION_COUNT],
			sec(f[DT_REGION_WALL_NS]), sec(f[DT_REGION_SELF_WALL_NS]), sec(f[DT_REGION_CPU_NS]),
			sec(f[DT_REGION_MAX_WALL_NS]));
		if (alloc)
			fprintf(out, "%" PRIu64 " | %s |\n", f[DT_REGION_ALLOC_CALLS],
				dt_fmt_bytes(bytes, sizeof(bytes), f[DT_REGION_ALLOC_BYTES]));
		else
			fputs("- | - |\n", out);
	}
	if (r->dropped)
		fprintf(out, "\n%" PRIu64 " region begins/ends were not recorded.\n", r->dropped);
	return ferror(out) ? -1 : 0;
}

int dt_regions_report_json(FILE *out, const struct dt_regions *r)
{
	int alloc = r->flags & DT_REGIONS_ALLOC_MEASURED;

	fprintf(out, "{\"alloc_measured\": %s, \"dropped\": %" PRIu64 ", \"list\": [",
		alloc ? "true" : "false", r->dropped);
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
		dt_json_put_string(out, r->r[i].name);
		fprintf(out,
			", \"count\": %" PRIu64 ", \"wall_s\": %.9f, \"self_wall_s\": %.9f, \"cpu_s\": %.9f, "
			"\"max_wall_s\": %.9f, ",
			f[DT_REGION_COUNT], sec(f[DT_REGION_WALL_NS]), sec(f[DT_REGION_SELF_WALL_NS]),
			sec(f[DT_REGION_CPU_NS]), sec(f[DT_REGION_MAX_WALL_NS]));
		if (alloc)
			fprintf(out, "\"alloc_calls\": %" PRIu64 ", \"alloc_bytes\": %" PRIu64 "}",
				f[DT_REGION_ALLOC_CALLS], f[DT_REGION_ALLOC_BYTES]);
		else
			fputs("\"alloc_calls\": null, \"alloc_bytes\": null}", out);
	}
	fputs(r->n ? "\n  ]}" : "]}", out);
	return ferror(out) ? -1 : 0;
}
