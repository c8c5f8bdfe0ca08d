/* store.c: store.h's entry points, handed to the back end the url named at store_open():
 * SQLite (sqlite.c) for one node, Redis (redis.c) for a location shared between nodes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

struct store {
	struct store_sqlite *sq;
	struct store_redis *rd;
};

static int is_redis(const char *url)
{
	return url && strncmp(url, "redis://", 8) == 0;
}

int store_url_check(const char *url, const char **why)
{
	char host[256];
	int port, db;

	if (is_redis(url))
		return store_redis_url(url, host, sizeof(host), &port, &db, why);
	if (url && strncmp(url, "sqlite://", 9) == 0 && url[9] != '\0')
		return 0;
	*why = "db_url must be sqlite:///absolute/path, sqlite://relative/path or "
	       "redis://host[:port][/db]";
	return EINVAL;
}

int store_open(const char *url, struct store **out)
{
	struct store *st;
	int err;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ENOMEM;
	err = is_redis(url) ? store_redis_open(url, &st->rd) : store_sqlite_open(url, &st->sq);
	if (err) {
		free(st);
		return err;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store_redis_close(st->rd);
	store_sqlite_close(st->sq);
	free(st);
}

int store_load(struct store *st, int64_t now, store_load_cb cb, void *arg)
{
	if (!st)
		return EINVAL;
	return st->rd ? store_redis_load(st->rd, now, cb, arg) :
			store_sqlite_load(st->sq, now, cb, arg);
}

int store_submit(struct store *st, const struct store_op *ops, unsigned n)
{
	if (!st)
		return EINVAL;
	return st->rd ? store_redis_submit(st->rd, ops, n) : store_sqlite_submit(st->sq, ops, n);
}

int store_flush(struct store *st)
{
	if (!st)
		return EINVAL;
	return st->rd ? store_redis_flush(st->rd) : store_sqlite_flush(st->sq);
}

int store_count(struct store *st, unsigned long *out)
{
	if (!st)
		return EINVAL;
	return st->rd ? store_redis_count(st->rd, out) : store_sqlite_count(st->sq, out);
}

int store_watch(struct store *st, store_aor_cb cb, void *arg)
{
	if (!st || !cb)
		return EINVAL;
	return st->rd ? store_redis_watch(st->rd, cb, arg) : 0;
}
