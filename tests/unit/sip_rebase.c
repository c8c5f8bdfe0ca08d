/* sip_rebase.c: sip_msg_rebase must give exactly what a fresh parse of the copy gives. The
 * comparison is of the whole struct sip_msg and header array, byte for byte, so a field added
 * to the struct later and forgotten in rebase.c still pointing into the old buffer fails here.
 * Messages: hand-written ones covering every always-parsed field, and every RFC 4475 message
 * that parses. The old buffer is wiped after the move, so a stale slice also reads garbage. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sip/msg.h"

#define CAP 128

static struct sip_hdr H0[CAP], H1[CAP], H2[CAP];
static struct sip_msg M0, M1, M2;

/* parse buf as received, move it onto a copy, parse the copy afresh: returns 1 when the
 * message parsed (and was compared), 0 when it did not parse */
static int check_one(const char *buf, size_t len, int stream)
{
	char *orig = malloc(len + 1), *copy;

	assert_non_null(orig);
	memcpy(orig, buf, len);
	memset(H0, 0, sizeof(H0));
	memset(H1, 0, sizeof(H1));
	memset(H2, 0, sizeof(H2));
	memset(&M0, 0, sizeof(M0));
	M0.hdr = H0;
	M0.hdr_cap = CAP;
	if (sip_msg_parse(&M0, orig, len, stream, NULL)) {
		free(orig);
		return 0;
	}
	copy = malloc(M0.len + 1);
	assert_non_null(copy);
	memcpy(copy, M0.buf, M0.len);
	assert_int_equal(sip_msg_rebase(&M1, &M0, copy, H1, M0.nhdr), 0);
	memset(orig, 0x55, len);	/* a slice left in the old buffer now reads garbage */

	M2.hdr = H2;
	M2.hdr_cap = CAP;
	assert_int_equal(sip_msg_parse(&M2, copy, M0.len, stream, NULL), 0);
	assert_int_equal(M1.nhdr, M2.nhdr);
	assert_memory_equal(H1, H2, M2.nhdr * sizeof(struct sip_hdr));
	/* hdr and hdr_cap differ by construction */
	M1.hdr = M2.hdr;
	M1.hdr_cap = M2.hdr_cap;
	assert_memory_equal(&M1, &M2, sizeof(M1));
	free(copy);
	free(orig);
	return 1;
}

static void test_handwritten(void **state)
{
	static const char *const msgs[] = {
		"INVITE sip:bob;user=phone@example.com:5062;transport=tcp;maddr=1.2.3.4;ttl=5;lr"
		";method=INVITE?subject=x SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK-1;rport;received=1.1.1.1;maddr=2.2.2.2"
		";ttl=3, SIP/2.0/TCP [::1]:5080;branch=z9hG4bK-2\r\n"
		"v: SIP/2.0/UDP h3;branch=z9hG4bK-3\r\n"
		"Max-Forwards: 70\r\n"
		"From: \"Alice A\" <sips:alice:pw@[2001:db8::1]:5061;transport=tls>;tag=ft;x=1\r\n"
		"To: bob <tel:+1-555;phone-context=x>;tag=tt;expires=5;q=0.5\r\n"
		"Call-ID: abc@def\r\nCSeq: 42 INVITE\r\n"
		"Contact: <sip:a@b>;expires=60, <sip:c@d>;q=0.1\r\n"
		"Route: <sip:p1;lr>\r\nX-Folded: a\r\n b\r\n"
		"Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n",
		"SIP/2.0 180 Ringing\r\nv: SIP/2.0/UDP a.b;branch=z9hG4bKx;rport=5060\r\n"
		"f: <sip:a@b>;tag=1\r\nt: sip:c@d;tag=2\r\ni: x\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n",
		"SIP/2.0 200 \r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
		"To: <sip:c@d>\r\nCall-ID: y\r\nCSeq: 2 BYE\r\n\r\n",
		"\r\n\r\nOPTIONS urn:service:sos SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: z\r\nCSeq: 3 OPTIONS\r\n\r\n"
		"trailing octets ignored",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		assert_int_equal(check_one(msgs[i], strlen(msgs[i]), 0), 1);
	/* the same INVITE framed as a stream (Content-Length required) */
	assert_int_equal(check_one(msgs[0], strlen(msgs[0]), 1), 1);
}

static void test_rfc4475_set(void **state)
{
	const char *dir = getenv("SY_RFC4475_DIR");
	char path[512];
	static char buf[70000];
	unsigned tried = 0, parsed = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	if (!dir)
		dir = "../shared/testdata/rfc4475";
	d = opendir(dir);
	if (!d)
		fail_msg("cannot open %s (set SY_RFC4475_DIR)", dir);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".dat"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		tried++;
		parsed += (unsigned)check_one(buf, len, 0);
	}
	closedir(d);
	assert_true(tried >= 40);
	assert_true(parsed >= 15);	/* the valid half of the set, and some of the rest */
}

static void test_bad_args(void **state)
{
	static const char msg[] = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
				  "f: <sip:a@b>;tag=1\r\nt: <sip:c@d>\r\ni: q\r\nCSeq: 1 BYE\r\n\r\n";
	char copy[sizeof(msg)];

	(void)state;
	M0.hdr = H0;
	M0.hdr_cap = CAP;
	assert_int_equal(sip_msg_parse(&M0, msg, sizeof(msg) - 1, 0, NULL), 0);
	memcpy(copy, msg, sizeof(msg));
	/* an index too small for the headers is refused, not overrun */
	assert_int_equal(sip_msg_rebase(&M1, &M0, copy, H1, M0.nhdr - 1), EINVAL);
	assert_int_equal(sip_msg_rebase(&M1, &M0, NULL, H1, CAP), EINVAL);
	assert_int_equal(sip_msg_rebase(&M1, &M0, copy, H1, M0.nhdr), 0);
	assert_ptr_equal(M1.callid.s, copy + (M0.callid.s - msg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handwritten),
		cmocka_unit_test(test_rfc4475_set),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
