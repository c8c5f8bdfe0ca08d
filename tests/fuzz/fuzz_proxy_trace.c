/* fuzz_proxy_trace.c: what `switchyard --trace` does to a capture before running it
 * (src/proxy/trace.c). The input is written to a memfd and read back with px_trace_read:
 * a capture with a CR comes back byte for byte; one without gets CRLF line ends only (no bare
 * LF left, nothing but CRs added besides the Content-Length value and the empty line), and its
 * first Content-Length (or "l") header, when it has one, equals the length of the body after
 * the first empty line. The same bytes, as a string, go through px_trace_source, whose result
 * must be a usable source or EINVAL/ENOENT. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proxy/proxy.h"
#include "tp/tp.h"

/* no script here: an empty unit table for the script library */
const struct scr_unit *const scr_units[] = { NULL };

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)

/* the converted message's Content-Length against its body: the first header line (not the
 * start line) named Content-Length or l that has a colon */
static void check_clen(const char *m, size_t len)
{
	const char *end = memmem(m, len, "\r\n\r\n", 4), *p, *nl;
	size_t blen;

	CHECK(end);
	blen = len - (size_t)(end + 4 - m);
	p = memmem(m, (size_t)(end - m) + 2, "\r\n", 2);
	for (p = p ? p + 2 : end + 2; p < end + 2; p = nl + 2) {
		size_t n, name = 0;
		const char *colon;

		nl = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		CHECK(nl);
		n = (size_t)(nl - p);
		while (name < n && p[name] != ':' && p[name] != ' ' && p[name] != '\t')
			name++;
		colon = memchr(p, ':', n);
		if (!colon || !((name == 14 && strncasecmp(p, "Content-Length", 14) == 0) ||
				(name == 1 && (p[0] == 'l' || p[0] == 'L'))))
			continue;
		{
			char want[32];
			int k = snprintf(want, sizeof(want), " %zu", blen);

			CHECK((size_t)(nl - colon - 1) == (size_t)k);
			CHECK(memcmp(colon + 1, want, (size_t)k) == 0);
		}
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char path[64], *buf = NULL, *spec;
	size_t len, i;
	struct sy_rcvinfo r;
	int fd, rc;

	if (!ready) {
		tp_listen_reset();
		tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 15050, NULL);
		ready = 1;
	}
	fd = memfd_create("capture", 0);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = px_trace_read(path, &buf, &len);
	close(fd);
	if (size == 0) {
		CHECK(rc == ENODATA && !buf);
	} else if (memchr(data, '\r', size)) {
		CHECK(rc == 0 && len == size && memcmp(buf, data, size) == 0);
	} else {
		CHECK(rc == 0);
		/* CRLF pairs only: no bare LF left, no CR that is not the start of a line end */
		for (i = 0; i < len; i++) {
			if (buf[i] == '\n')
				CHECK(i > 0 && buf[i - 1] == '\r');
			if (buf[i] == '\r')
				CHECK(i + 1 < len && buf[i + 1] == '\n');
		}
		if (data[0] == '\n' && (size == 1 || data[1] == '\n')) {
			/* no headers at all: the empty line comes first, the rest is body */
			CHECK(len >= 2 && buf[0] == '\r' && buf[1] == '\n');
		} else {
			/* the headers end with an empty line, and Content-Length counts the rest */
			CHECK(memmem(buf, len, "\r\n\r\n", 4));
			check_clen(buf, len);
		}
	}
	free(buf);

	spec = malloc(size + 1);
	CHECK(spec);
	memcpy(spec, data, size);
	spec[size] = 0;
	rc = px_trace_source(spec, &r);
	CHECK(rc == 0 || rc == EINVAL || rc == ENOENT);
	if (rc == 0) {
		CHECK(r.proto == SY_PROTO_UDP && r.listen_idx == 0);
		CHECK(tp_addr_port(&r.src) >= 1 && tp_addr_port(&r.src) <= 65535);
	}
	free(spec);
	return 0;
}
