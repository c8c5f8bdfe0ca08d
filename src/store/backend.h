/* backend.h: the two back ends behind store.h, each with the same operations (store.c picks
 * one by the url's scheme). Internal to src/store. */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "store/store.h"

struct store_sqlite;
int store_sqlite_open(const char *url, struct store_sqlite **out);
void store_sqlite_close(struct store_sqlite *st);
int store_sqlite_load(struct store_sqlite *st, int64_t now, store_load_cb cb, void *arg);
int store_sqlite_submit(struct store_sqlite *st, const struct store_op *ops, unsigned n);
int store_sqlite_flush(struct store_sqlite *st);
int store_sqlite_count(struct store_sqlite *st, unsigned long *out);

/* "redis://host[:port][/db]": host (NUL-terminated, at most hostcap - 1 bytes), port, db.
 * 0 or EINVAL with *why set. */
int store_redis_url(const char *url, char *host, size_t hostcap, int *port, int *db,
		    const char **why);

struct store_redis;
int store_redis_open(const char *url, struct store_redis **out);
void store_redis_close(struct store_redis *st);
int store_redis_load(struct store_redis *st, int64_t now, store_load_cb cb, void *arg);
int store_redis_submit(struct store_redis *st, const struct store_op *ops, unsigned n);
int store_redis_flush(struct store_redis *st);
int store_redis_count(struct store_redis *st, unsigned long *out);
int store_redis_watch(struct store_redis *st, store_aor_cb cb, void *arg);

#endif
