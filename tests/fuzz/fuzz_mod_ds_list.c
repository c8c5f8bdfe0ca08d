/* fuzz_mod_ds_list.c: the dispatcher's leaf parsers (src/mod/ds_list.c) on arbitrary bytes:
 * the first byte picks the parser, the rest is a list_file line, a failover record (the
 * $avp value a failure_route reads back) or a reply the prober receives (SIP parse, then its
 * own Via branch parser; no destination table is loaded, so nothing matches). Checks: no read outside the input, results are
 * slices of it, a decoded record re-encodes to exactly the input, and encode(decode(x))
 * round-trips for every record the decoder accepts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mod/dispatcher.h"

static void in_input(sy_str s, const uint8_t *data, size_t size)
{
	if (s.len && ((const uint8_t *)s.s < data || (const uint8_t *)s.s + s.len > data + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sy_str in;

	if (size < 1)
		return 0;
	in = sy_str_make((const char *)data + 1, size - 1);
	if (data[0] == 2) {
		if (ds_probe_reply(in.s, in.len, NULL) != 0)
			abort();
	} else if (data[0] & 1) {
		struct ds_line l;
		const char *why = NULL;
		int rc = ds_parse_line(in, &l, &why);

		if (rc == 0) {
			in_input(l.uri, data, size);
			in_input(l.attrs, data, size);
			if (!l.uri.len)
				abort();
		} else if (rc == EINVAL && !why) {
			abort();
		}
	} else {
		struct ds_failover f, g;
		char buf[DS_MAX_CAND * 11 + 40];
		size_t len;

		if (ds_failover_decode(in, &f) == 0) {
			if (f.n > DS_MAX_CAND || ds_failover_encode(&f, buf, sizeof(buf), &len) ||
			    ds_failover_decode(sy_str_make(buf, len), &g) ||
			    memcmp(&f, &g, sizeof(f)) != 0)
				abort();
		}
	}
	return 0;
}
