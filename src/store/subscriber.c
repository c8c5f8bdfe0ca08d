/* subscriber.c: the read side of authentication users: one SELECT over the subscriber table
 * of an SQLite file opened read-only (store/subscriber.h). Column names come from modparams,
 * so they are checked to be plain identifiers and quoted before they go into the SQL. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "store/subscriber.h"

int store_sql_ident_ok(const char *s, size_t len)
{
	if (!s || len == 0 || len > 63)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

static sy_str col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? sy_str_make((const char *)t, (size_t)sqlite3_column_bytes(st, i)) :
		   sy_str_make("", 0);
}

static int ident(const char *s)
{
	return s && store_sql_ident_ok(s, strlen(s));
}

int store_subscriber_read(const char *url, const struct store_sub_columns *cols,
			  store_sub_cb cb, void *arg)
{
	static const char pfx[] = "sqlite://";
	const char *path;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	char sql[512];
	int rc, with_sha, n = 0;

	if (!url || strncmp(url, pfx, sizeof(pfx) - 1) != 0 || !url[sizeof(pfx) - 1])
		return EINVAL;
	path = url + sizeof(pfx) - 1;
	if (!cols || !ident(cols->table) || !ident(cols->user) || !ident(cols->domain) ||
	    !ident(cols->password) || (cols->ha1_sha256 && !ident(cols->ha1_sha256)))
		return EINVAL;
	if (stat(path, &sb) != 0)
		return ENOENT;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		LOG_ERR("auth_db: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		rc = EIO;
		goto out;
	}
	/* the file may be mid-write by an operator's sqlite3: wait a little, we are not a worker */
	sqlite3_busy_timeout(db, 2000);
	for (with_sha = cols->ha1_sha256 != NULL; with_sha >= 0; with_sha--) {
		n = snprintf(sql, sizeof(sql), "SELECT \"%s\", \"%s\", \"%s\"%s%s%s FROM \"%s\"",
			     cols->user, cols->domain, cols->password, with_sha ? ", \"" : "",
			     with_sha ? cols->ha1_sha256 : "", with_sha ? "\"" : "", cols->table);
		if (n < 0 || (size_t)n >= sizeof(sql)) {
			rc = EINVAL;
			goto out;
		}
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
			break;
		/* an older subscriber table without the SHA-256 column still serves MD5 */
		if (!with_sha) {
			LOG_ERR("auth_db: %s: %s", path, sqlite3_errmsg(db));
			rc = EIO;
			goto out;
		}
	}
	rc = 0;
	while (!rc && (n = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_subscriber row;

		row.username = col_text(st, 0);
		row.domain = col_text(st, 1);
		row.password = col_text(st, 2);
		row.ha1_sha256 = with_sha ? col_text(st, 3) : sy_str_make("", 0);
		rc = cb(&row, arg);
	}
	if (!rc && n != SQLITE_DONE) {
		LOG_ERR("auth_db: reading %s: %s", path, sqlite3_errmsg(db));
		rc = EIO;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}
