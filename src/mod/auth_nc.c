/* auth_nc.c: nonce-count replay protection in bounded memory (modparam "nonce_count", as
 * Kamailio's). RFC 7616 §3.4: with qop, a client counts its requests on one nonce in nc; a
 * server that remembers the highest nc accepted per nonce refuses a replayed request within the
 * nonce's lifetime.
 * Stateless nonces carry a serial (auth_digest.c): the nonce of serial s has slot
 * s % AUTH_NC_SLOTS, one 64-bit atomic word holding (nonce key << 24 | highest nc). Serials are
 * issued in order, so while fewer than AUTH_NC_SLOTS challenges are made per nonce_expire every
 * live nonce has a slot of its own. When a newer nonce has taken the slot the older one cannot
 * be checked any more and is refused (the UA gets a new nonce). Updates are one compare-and-
 * swap: any worker, no lock, nothing allocated per request. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "mod/auth.h"

static _Atomic uint64_t *slots;

int auth_nc_init(void)
{
	if (slots)
		return 0;
	slots = calloc(AUTH_NC_SLOTS, sizeof(*slots));
	return slots ? 0 : ENOMEM;
}

void auth_nc_reset(void)
{
	free((void *)slots);
	slots = NULL;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* value of hex digits s[0..n) */
static int hexnum(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int d = hexv(s[i]);

		if (d < 0)
			return EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

int auth_nc_check(sy_str nonce, sy_str nc)
{
	uint64_t exp, serial, n, key, old, want;
	uint32_t idx;

	if (!slots)
		return 0;
	/* the nonce already verified: expiry = hex 0..16, flags 16..18, serial 18..26 */
	if (nonce.len != AUTH_NONCE_LEN || hexnum(nonce.s, 16, &exp) ||
	    hexnum(nonce.s + 18, 8, &serial) || nc.len != 8 || hexnum(nc.s, 8, &n))
		return EINVAL;
	if (n == 0 || n > 0xffffff)
		return EALREADY;	/* nc starts at 1; past 2^24 on one nonce: make a new one */
	key = (serial & 0xffffff) << 16 | (exp & 0xffff);
	want = key << 24 | n;
	idx = (uint32_t)(serial % AUTH_NC_SLOTS);
	old = atomic_load(&slots[idx]);
	for (;;) {
		uint64_t okey = old >> 24, onc = old & 0xffffff;

		if (old && okey == key) {
			if (n <= onc)
				return EALREADY;
		} else if (old) {
			/* another nonce holds the slot: take it only if ours is the newer one (by
			 * expiry, then serial; both compared modulo their width, windows are short) */
			int16_t de = (int16_t)(uint16_t)((exp & 0xffff) - (okey & 0xffff));
			int32_t ds = (int32_t)((uint32_t)((serial & 0xffffff) - (okey >> 16)) << 8);

			if (de < 0 || (de == 0 && ds <= 0))
				return ENOSPC;
		}
		if (atomic_compare_exchange_weak(&slots[idx], &old, want))
			return 0;
	}
}
