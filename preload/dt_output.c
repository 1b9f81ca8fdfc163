/* The trace file: expands DEIATRACE_OUTPUT (%p %n %%) relative to the starting directory (its absolute
 * path and identity, kept from start-up: a chdir() changes nothing, and the host holds no descriptor
 * of ours), writes a private temporary file and publishes it with
 * linkat, which never overwrites; only a file this process published there before (a checkpoint; same
 * dev/inode) is replaced, by an atomic exchange. On failure one "deiatrace: cannot write trace FILE:
 * reason" line and no temporary file left. No malloc, no stdio, only async-signal-safe calls.
 * Called by dt_lifecycle (init) and dt_writer (publish). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* renameat2, RENAME_EXCHANGE: declarations only */
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dt_shim.h"

#define OUTPUT_TMP_TRIES 16	   /* temporary names tried when one exists already */
#define OUTPUT_NAME_MAX_BYTES 255  /* NAME_MAX of the usual Linux file systems */
#define OUTPUT_DEFAULT_PROG "prog" /* %n when the program name is unknown */
#define OUTPUT_MODE 0600	   /* a trace holds argv and code addresses: owner only */
#define OUTPUT_LINE_BYTES (PATH_MAX + 256)
#define OUTPUT_ALT_TRIES 16 /* names tried when earlier images of the same pid (exec) hold the name */
#define OUTPUT_META_PID_OFFSET (DT_FILE_HEADER_BYTES + DT_SECTION_HEADER_BYTES + 4u) /* after nfields */

/* One struct, small fields first: start-up writes them and the head of start_path, and each page of
 * the shim's .bss written first costs a page fault; as separate variables they spanned three pages.
 * pub_*: the file this process published last (a checkpoint, or the trace written before an exec
 * that failed): the next publish under the same name in the same process replaces it, nothing else.
 * The caller serialises publishes (dt_lifecycle's writer flag). */
static struct {
	int start_known; /* dt_output_init ran: start_dev/start_ino are the starting directory's */
	int pub_have;
	dev_t start_dev;
	ino_t start_ino;
	uint64_t pub_pid;
	dev_t pub_dev;
	ino_t pub_ino;
	char start_path[PATH_MAX];		  /* "" when getcwd failed (a path longer than PATH_MAX) */
	char pub_base[OUTPUT_NAME_MAX_BYTES + 1]; /* the file name used in its directory */
	char pub_path[PATH_MAX];		  /* the name DEIATRACE_OUTPUT gave */
} out_state;

int dt_output_init(void) /* ctx: any; once, from the constructor */
{
	struct stat st;
	if (stat(".", &st) != 0)
		return -errno;
	out_state.start_dev = st.st_dev;
	out_state.start_ino = st.st_ino;
	if (!getcwd(out_state.start_path, sizeof(out_state.start_path)))
		out_state.start_path[0] = '\0';
	out_state.start_known = 1;
	return 0;
}

/* The starting directory, found again by its path and checked to be the same directory (device and
 * inode); if it was renamed or replaced, the current directory when it still is the starting one.
 * Sets *dirfd (to be closed by the caller when *owned); 0 or -errno. ctx: sigsafe */
static int start_dir(int *dirfd, int *owned)
{
	struct stat st;
	*owned = 0;
	*dirfd = AT_FDCWD;
	if (!out_state.start_known)
		return 0; /* never initialised (unit tests): the current directory */
	if (out_state.start_path[0] == '/') {
		int fd = open(out_state.start_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &st) == 0 && st.st_dev == out_state.start_dev &&
			    st.st_ino == out_state.start_ino) {
				*dirfd = fd;
				*owned = 1;
				return 0;
			}
			close(fd);
		}
	}
	if (stat(".", &st) == 0 && st.st_dev == out_state.start_dev && st.st_ino == out_state.start_ino)
		return 0;
	return -ENOENT;
}

/* ---------------------------------------------------------------- names */

static int put_char(char *out, size_t outlen, size_t *n, char c) /* ctx: sigsafe */
{
	if (*n + 1 >= outlen)
		return -ENAMETOOLONG;
	out[(*n)++] = c;
	return 0;
}

static int put_u64(char *out, size_t outlen, size_t *n, uint64_t v) /* ctx: sigsafe */
{
	char digits[24];
	size_t d = 0;
	do {
		digits[d++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (d > 0)
		if (put_char(out, outlen, n, digits[--d]) != 0)
			return -ENAMETOOLONG;
	return 0;
}

/* %n: the program name made safe for a file name: no '/', no control bytes, never "." or "..". */
static int put_prog(char *out, size_t outlen, size_t *n, const char *prog) /* ctx: sigsafe */
{
	if (!prog || !*prog || strcmp(prog, ".") == 0 || strcmp(prog, "..") == 0)
		prog = OUTPUT_DEFAULT_PROG;
	for (; *prog; prog++) {
		unsigned char c = (unsigned char)*prog;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '.' || c == '_' || c == '-' || c == '+';
		if (put_char(out, outlen, n, ok ? (char)c : '_') != 0)
			return -ENAMETOOLONG;
	}
	return 0;
}

/* Expands %p (pid), %n (program name), %% ('%'); any other '%' is kept as written. Returns 0,
 * -ENAMETOOLONG when out is too small, -EINVAL for an empty result. ctx: sigsafe */
int dt_output_expand(const char *pattern, uint64_t pid, const char *prog, char *out, size_t outlen)
{
	size_t n = 0;
	int rc = 0;
	if (!pattern || !outlen)
		return -EINVAL;
	for (const char *p = pattern; *p && rc == 0; p++) {
		if (p[0] != '%' || p[1] == '\0') {
			rc = put_char(out, outlen, &n, *p);
			continue;
		}
		switch (*++p) {
		case 'p':
			rc = put_u64(out, outlen, &n, pid);
			break;
		case 'n':
			rc = put_prog(out, outlen, &n, prog);
			break;
		case '%':
			rc = put_char(out, outlen, &n, '%');
			break;
		default:
			rc = put_char(out, outlen, &n, '%');
			if (rc == 0)
				rc = put_char(out, outlen, &n, *p);
			break;
		}
	}
	out[rc == 0 ? n : 0] = '\0';
	if (rc == 0 && n == 0)
		rc = -EINVAL;
	return rc;
}

/* ---------------------------------------------------------------- publishing */

static void warn_failed(const char *path, int err, const char *reason) /* ctx: any */
{
	char line[OUTPUT_LINE_BYTES];
	size_t n = 0;
	const char *parts[] = {"cannot write trace ", path, ": ", reason};
	if (!reason) {
		reason =
		    err == EEXIST ? "the file exists already and was left as it was" : strerrordesc_np(err);
		parts[3] = reason ? reason : "unknown error";
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const char *s = parts[i]; *s && n + 1 < sizeof(line); s++)
			line[n++] = *s;
	line[n] = '\0';
	dt_warn(line);
}

static int write_all(int fd, const uint8_t *p, size_t len) /* ctx: any; 0 or -errno */
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Temporary name next to the final one: ".BASE.tmp.PID.N", or ".deiatrace.tmp.PID.N" when BASE is
 * too long for that. ctx: any */
static int tmp_name(char *out, size_t outlen, const char *base, uint64_t pid, unsigned try_no)
{
	char pat[OUTPUT_NAME_MAX_BYTES + 1];
	size_t blen = strlen(base);
	const char *stem = blen + 32 <= OUTPUT_NAME_MAX_BYTES ? base : "deiatrace";
	size_t n = 0;
	if (put_char(pat, sizeof(pat), &n, '.') != 0)
		return -ENAMETOOLONG;
	for (const char *s = stem; *s; s++)
		if (put_char(pat, sizeof(pat), &n, *s == '%' ? '_' : *s) != 0)
			return -ENAMETOOLONG;
	for (const char *s = ".tmp.%p."; *s; s++)
		if (put_char(pat, sizeof(pat), &n, *s) != 0)
			return -ENAMETOOLONG;
	pat[n] = '\0';
	int rc = dt_output_expand(pat, pid, NULL, out, outlen);
	if (rc != 0)
		return rc;
	n = strlen(out);
	rc = put_u64(out, outlen, &n, try_no);
	out[n] = '\0';
	return rc;
}

/* Puts tmp in place of base if base is the file we published last. Returns 1 (tmp now names the old
 * file, to be unlinked), 2 (tmp renamed over it: nothing to unlink), -ENOENT (base is gone: link
 * instead) or -errno (-EEXIST: base is not ours and stays). ctx: sigsafe */
static int replace_ours(int dfd, const char *tmp, const char *base)
{
	struct stat cur;
	if (fstatat(dfd, base, &cur, AT_SYMLINK_NOFOLLOW) != 0)
		return -errno;
	if (cur.st_dev != out_state.pub_dev || cur.st_ino != out_state.pub_ino)
		return -EEXIST;
	/* The exchange is atomic; the check after it closes the race with someone replacing base
	 * between the stat and the exchange: then their file is swapped back, untouched. */
	if (renameat2(dfd, tmp, dfd, base, RENAME_EXCHANGE) == 0) {
		if (fstatat(dfd, tmp, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == out_state.pub_dev &&
		    cur.st_ino == out_state.pub_ino)
			return 1;
		renameat2(dfd, tmp, dfd, base, RENAME_EXCHANGE);
		return -EEXIST;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_EXCHANGE: the stat above is the check (a narrow race remains). */
	if (renameat(dfd, tmp, dfd, base) != 0)
		return -errno;
	return 2;
}

/* 1 if name is a trace written by process pid: an image that ran in this process before an exec
 * (same program name, same pid), or an earlier process that had our pid. ctx: sigsafe */
static int same_pid_trace(int dfd, const char *name, uint64_t pid)
{
	uint8_t head[OUTPUT_META_PID_OFFSET + 8];
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	struct stat st;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
		n = pread(fd, head, sizeof(head), 0);
	close(fd);
	return n == (ssize_t)sizeof(head) && memcmp(head, DT_TRACE_MAGIC, DT_TRACE_MAGIC_LEN) == 0 &&
	       dt_get_u32(head + DT_FILE_HEADER_BYTES) == DT_SEC_META &&
	       dt_get_u64(head + OUTPUT_META_PID_OFFSET) == pid;
}

/* base with ".k" before its extension ("t.123.bin" -> "t.123.2.bin"), or after it if it has none. */
static int alt_name(char *out, size_t outlen, const char *base, unsigned k) /* ctx: sigsafe */
{
	const char *dot = strrchr(base, '.');
	size_t stem = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	size_t n = 0;
	for (size_t i = 0; i < stem; i++)
		if (put_char(out, outlen, &n, base[i]) != 0)
			return -ENAMETOOLONG;
	if (put_char(out, outlen, &n, '.') != 0 || put_u64(out, outlen, &n, k) != 0)
		return -ENAMETOOLONG;
	for (const char *s = base + stem; *s; s++)
		if (put_char(out, outlen, &n, *s) != 0)
			return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

/* Writes the trace in b to the file DEIATRACE_OUTPUT names for (pid, prog). Returns 0, or -errno
 * after printing the one warning line. ctx: sigsafe (dt_lifecycle's fatal-signal path uses it) */
int dt_output_publish(const struct dt_tracebuf *b, uint64_t pid, const char *prog)
{
	char path[PATH_MAX], dir[PATH_MAX], tmp[OUTPUT_NAME_MAX_BYTES + 1];
	const char *base = path;
	const char *reason = NULL;
	int start_owned = 0, sfd = AT_FDCWD, dfd = AT_FDCWD, dfd_owned = 0, fd = -1, tmp_made = 0, rc;

	rc = dt_output_expand(dt_config_get()->output, pid, prog, path, sizeof(path));
	if (rc != 0) {
		const char *shown = dt_config_get()->output;
		warn_failed(shown, -rc, rc == -EINVAL ? "the name is empty" : NULL);
		return rc;
	}
	if (b->failed || !b->data) {
		rc = -ENOMEM;
		reason = "out of memory for the trace buffer";
		goto out;
	}
	/* An absolute name needs no starting directory (openat ignores the fd). */
	rc = path[0] == '/' ? 0 : start_dir(&sfd, &start_owned);
	if (rc != 0) {
		reason = "the starting directory is gone";
		goto out;
	}
	const char *slash = strrchr(path, '/');
	if (slash) {
		size_t dlen = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
		base = slash + 1;
		dfd = openat(sfd, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			rc = -errno;
			goto out;
		}
		dfd_owned = 1;
	} else {
		dfd = sfd;
	}
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		rc = -EISDIR;
		goto out;
	}
	if (strlen(base) > OUTPUT_NAME_MAX_BYTES) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	struct rlimit fsize;
	if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)b->len > (uint64_t)fsize.rlim_cur) {
		/* Writing past RLIMIT_FSIZE raises SIGXFSZ, which would kill the host. */
		rc = -EFBIG;
		goto out;
	}
	for (unsigned t = 0; t < OUTPUT_TMP_TRIES; t++) {
		rc = tmp_name(tmp, sizeof(tmp), base, pid, t);
		if (rc != 0)
			goto out;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, OUTPUT_MODE);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	tmp_made = 1;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		rc = -EPERM;
		reason = "the temporary file is not a regular file of ours";
		goto out;
	}
	rc = write_all(fd, b->data, b->len);
	if (rc != 0)
		goto out;
	/* close reports deferred write errors on some file systems (NFS, quotas). */
	rc = close(fd) == 0 ? 0 : -errno;
	fd = -1;
	if (rc != 0)
		goto out;
	rc = -ENOENT;
	const char *target = base;
	char alt[OUTPUT_NAME_MAX_BYTES + 1];
	if (out_state.pub_have && out_state.pub_pid == pid && strcmp(out_state.pub_path, path) == 0) {
		target = out_state.pub_base;
		rc = replace_ours(dfd, tmp, target);
		if (rc == 2)
			tmp_made = 0;
		if (rc > 0)
			rc = 0;
	}
	/* linkat fails with EEXIST rather than replace a file someone else (or an earlier run) left. */
	if (rc == -ENOENT)
		rc = linkat(dfd, tmp, dfd, target, 0) == 0 ? 0 : -errno;
	/* The name is taken by a trace of this very pid: the image before an exec of a program with the
	 * same name. Ours goes next to it, numbered. */
	for (unsigned k = 2; rc == -EEXIST && k < 2 + OUTPUT_ALT_TRIES && same_pid_trace(dfd, target, pid);
	     k++) {
		if (alt_name(alt, sizeof(alt), base, k) != 0)
			break;
		target = alt;
		rc = linkat(dfd, tmp, dfd, target, 0) == 0 ? 0 : -errno;
	}
	if (rc == 0) {
		out_state.pub_have = 1;
		out_state.pub_pid = pid;
		out_state.pub_dev = st.st_dev;
		out_state.pub_ino = st.st_ino;
		memcpy(out_state.pub_path, path, strlen(path) + 1);
		if (target != out_state.pub_base)
			memcpy(out_state.pub_base, target, strlen(target) + 1);
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlinkat(dfd, tmp, 0);
	if (dfd_owned)
		close(dfd);
	if (start_owned)
		close(sfd);
	if (rc != 0)
		warn_failed(path, -rc, reason);
	return rc;
}
