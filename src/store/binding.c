/* binding.c: deep copies of a struct store_binding whose string fields must outlive the
 * caller's buffers: the store's write queue (a job copied once per REGISTER) and usrloc's
 * in-memory contacts and arena views use the same layout, the strings packed one after the
 * other behind the struct's owner. */
#include <string.h>

#include "store/store.h"

size_t store_binding_strs_len(const struct store_binding *b)
{
	return b->aor.len + b->contact.len + b->received.len + b->path.len + b->callid.len +
	       b->user_agent.len + b->instance.len;
}

static sy_str put_str(char **p, sy_str v)
{
	sy_str r = { *p, v.len };

	if (v.len)
		memcpy(*p, v.s, v.len);
	*p += v.len;
	return r;
}

char *store_binding_copy(struct store_binding *dst, const struct store_binding *src, char *p)
{
	*dst = *src;
	dst->aor = put_str(&p, src->aor);
	dst->contact = put_str(&p, src->contact);
	dst->received = put_str(&p, src->received);
	dst->path = put_str(&p, src->path);
	dst->callid = put_str(&p, src->callid);
	dst->user_agent = put_str(&p, src->user_agent);
	dst->instance = put_str(&p, src->instance);
	return p;
}
