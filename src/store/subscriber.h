/* subscriber.h: read an OpenSIPS-style `subscriber` table (username, domain, password / ha1,
 * ha1_sha256) from an SQLite file, for auth_db's in-memory copy. Synchronous and read-only:
 * called at start-up and from auth_db's helper thread, never from a worker. */
#ifndef STORE_SUBSCRIBER_H
#define STORE_SUBSCRIBER_H

#include <stddef.h>

#include "core/str.h"

/* one row; strings valid during the callback only, empty for NULL */
struct store_subscriber {
	sy_str username, domain, password, ha1_sha256;
};

/* which table and columns (SQL identifiers: letters, digits, '_'); ha1_sha256 may be NULL
 * or name a column the table lacks (older schemas): it then reads as empty */
struct store_sub_columns {
	const char *table, *user, *domain, *password, *ha1_sha256;
};

/* 1 when s[0..len) is usable as an SQL identifier here ([A-Za-z_][A-Za-z0-9_]*, at most 63) */
int store_sql_ident_ok(const char *s, size_t len);

typedef int (*store_sub_cb)(const struct store_subscriber *row, void *arg);
/* Call cb for every row of the table in the database named by url ("sqlite://path", opened
 * read-only: a missing file is never created). 0, ENOENT (no such file), EINVAL (bad url or
 * identifier), EIO (not a database, no such table or column; one log line says which), or
 * the first non-zero return of cb */
int store_subscriber_read(const char *url, const struct store_sub_columns *cols,
			  store_sub_cb cb, void *arg);

#endif
