/* sip_rfc4475.c: the RFC 4475 torture messages through sip_msg_parse + sip_validate_*, one
 * cmocka test per manifest row, checking the verdict of manifest.tsv's proxy_expected column.
 * Each message is also parsed when placed at the very end of a readable page followed by a
 * PROT_NONE page, so any read past the datagram faults. Choices where the manifest allows
 * two answers: REJECT_400_OR_LIBERAL and REJECT_400_OR_RFC2543_MATCH are rejected with 400;
 * REJECT_416_OR_404 answers 416; REJECT_501_OR_400 answers 501. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "sip/build.h"
#include "sip/msg.h"

struct row {
	char file[64];
	char kind[16];
	char expected[64];
	char path[512];
};

static const char *const supported[] = { "path", "outbound", NULL };

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc((size_t)n + 1);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

/* walk every header with the typed parsers, as a consumer would */
static void walk_headers(const struct sip_msg *m)
{
	for (unsigned i = 0; i < m->nhdr; i++) {
		const struct sip_hdr *h = &m->hdr[i];
		sy_str rest = h->body, item;
		struct sip_via v;
		struct sip_nameaddr na;
		switch (h->id) {
		case SIP_H_VIA:
			while (rest.len && sip_via_parse(rest, &v, &rest) == 0)
				;
			break;
		case SIP_H_CONTACT: case SIP_H_ROUTE: case SIP_H_RECORD_ROUTE: case SIP_H_PATH:
		case SIP_H_FROM: case SIP_H_TO:
			while (rest.len && sip_nameaddr_parse(rest, &na, &rest) == 0)
				;
			break;
		default:
			while (sip_list_next(rest, &item, &rest) == 0)
				;
		}
	}
}

/* parse + validate: the reply code owed (0 = accepted, 1 = dropped response, 2 = dropped
 * request) */
static unsigned judge(const char *buf, size_t len, struct sip_msg *m, struct sip_verdict *v)
{
	static struct sip_hdr hdr[128];
	m->hdr = hdr;
	m->hdr_cap = 128;
	memset(v, 0, sizeof(*v));
	int rc = sip_msg_parse(m, buf, len, 0, NULL);
	if (rc) {
		assert_true(rc == EBADMSG || rc == EMSGSIZE);
		/* a request the parser cannot answer (err_code 0) is "2": silently dropped */
		return m->is_request ? (m->err_code ? m->err_code : 2) : 1;
	}
	assert_true(m->len <= len);
	walk_headers(m);
	if (!m->is_request)
		return sip_validate_response(m) ? 1 : 0;
	if (sip_validate_request(m, supported, v)) {
		assert_true(v->code >= 400 && v->code < 600);
		return v->code;
	}
	return 0;
}

static void check_verdict(const struct row *r, const char *buf, size_t len)
{
	struct sip_msg m;
	struct sip_verdict v;
	unsigned code = judge(buf, len, &m, &v);
	const char *e = r->expected;

	if (!strcmp(e, "ACCEPT") || !strcmp(e, "ACCEPT_OR_400") ||
	    !strcmp(e, "REJECT_483_OR_OPTIONS_200")) {
		if (code)
			fail_msg("%s: expected accept, got %u (%s)", r->file, code,
				 m.err_reason ? m.err_reason : v.reason ? v.reason : "");
	} else if (!strcmp(e, "REJECT_505")) {
		assert_int_equal(code, 505);
	} else if (!strncmp(e, "REJECT_416", 10)) {
		assert_int_equal(code, 416);
	} else if (!strcmp(e, "REJECT_420")) {
		assert_int_equal(code, 420);
		assert_non_null(memmem(v.unsupported.s, v.unsupported.len, "noProxiesSupportThis", 20));
		assert_non_null(memmem(v.unsupported.s, v.unsupported.len,
				       "norDoAnyProxiesSupportThis", 26));
	} else if (!strcmp(e, "REJECT_501_OR_400")) {
		assert_true(code == 501 || code == 400);
	} else if (!strncmp(e, "REJECT_400", 10)) {
		if (code != 400)
			fail_msg("%s: expected 400, got %u", r->file, code);
	} else if (!strcmp(e, "DROP")) {
		/* bcast.dat is well formed: dropping it is a routing decision */
		if (!strcmp(r->file, "bcast.dat"))
			assert_int_equal(code, 0);
		else
			assert_int_equal(code, 1);
	} else {
		fail_msg("%s: unknown verdict %s", r->file, e);
	}
	if (!strcmp(r->file, "dblreq.dat")) {
		assert_int_equal(code, 0);
		assert_true(m.len < len);
		assert_int_equal(m.len, m.hdr_end + 2);
		/* what follows is the CRLF and the INVITE that must not be taken as the body */
		assert_memory_equal(buf + m.len, "\r\nINVITE", 8);
	}
}

static char *cur_buf;	/* freed by teardown: a failed assertion longjmps out of the test */

static int teardown(void **state)
{
	(void)state;
	free(cur_buf);
	cur_buf = NULL;
	return 0;
}

static void test_row(void **state)
{
	const struct row *r = *state;
	size_t len = 0;
	char *buf = cur_buf = slurp(r->path, &len);
	assert_non_null(buf);
	check_verdict(r, buf, len);

	/* again, ending exactly at a page boundary with an inaccessible page after it */
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = (len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	if (span == 0)
		span = (size_t)pg;
	char *map = mmap(NULL, span + (size_t)pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + span, (size_t)pg, PROT_NONE), 0);
	memcpy(map + span - len, buf, len);
	check_verdict(r, map + span - len, len);
	munmap(map, span + (size_t)pg);
}

int main(void)
{
	const char *dir = getenv("SY_RFC4475_DIR");
	char path[512], line[4096];
	static struct row rows[128];
	static struct CMUnitTest tests[128];
	size_t n = 0;

	if (!dir)
		dir = "../shared/testdata/rfc4475";
	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s (set SY_RFC4475_DIR)\n", path);
		return 1;
	}
	while (fgets(line, sizeof(line), f) && n < 128) {
		char *save = NULL, *col[7] = { 0 };
		int c = 0;
		for (char *t = strtok_r(line, "\t\n", &save); t && c < 7; t = strtok_r(NULL, "\t\n", &save))
			col[c++] = t;
		if (c < 6 || !strcmp(col[0], "file"))
			continue;
		struct row *r = &rows[n];
		snprintf(r->file, sizeof(r->file), "%s", col[0]);
		snprintf(r->kind, sizeof(r->kind), "%s", col[3]);
		snprintf(r->expected, sizeof(r->expected), "%s", col[5]);
		snprintf(r->path, sizeof(r->path), "%s/%s", dir, col[0]);
		tests[n] = (struct CMUnitTest){ r->file, test_row, NULL, teardown, r };
		n++;
	}
	fclose(f);
	if (n < 49) {
		fprintf(stderr, "manifest has %zu rows, expected 49\n", n);
		return 1;
	}
	return _cmocka_run_group_tests("sip_rfc4475", tests, n, NULL, NULL);
}
