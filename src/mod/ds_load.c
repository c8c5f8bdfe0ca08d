/* ds_load.c: the dispatcher's destinations read at load, on the main thread, before any
 * worker exists (a worker never touches a file or SQLite): Kamailio's list_file
 * ("setid destination [flags [priority [attrs]]]" per line) and OpenSIPS' `dispatcher` table
 * in SQLite (setid, destination, socket, state, weight, priority, attrs, description).
 * Every bad line or row is reported as "file:line: message" (rows: "file: table row id N:")
 * and fails the load: a load balancer that silently drops a gateway is worse than one that
 * does not start. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mod/dispatcher.h"

static int load_list(const char *path, FILE *err, int add);

int ds_load_list(const char *path, FILE *err)
{
	return load_list(path, err, 1);
}

int ds_check_list(const char *path, FILE *err)
{
	return load_list(path, err, 0);
}

static int load_list(const char *path, FILE *err, int add)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	unsigned lineno = 0, bad = 0;
	int rc = 0;

	if (!f) {
		if (err)
			fprintf(err, "%s: cannot open dispatcher list_file: %s\n", path,
				strerror(errno));
		return EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		struct ds_line l;
		struct ds_new nd;
		const char *why = NULL;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			if (err)
				fprintf(err, "%s:%u: line longer than %zu bytes\n", path, lineno,
					sizeof(line) - 2);
			bad++;
			/* skip the rest of that line */
			while (fgets(line, sizeof(line), f) && !strchr(line, '\n'))
				;
			continue;
		}
		rc = ds_parse_line(sy_str_make(line, len), &l, &why);
		if (rc == ENOENT)
			continue;
		if (rc == 0) {
			memset(&nd, 0, sizeof(nd));
			nd.setid = l.setid;
			nd.uri = l.uri;
			nd.attrs = l.attrs;
			nd.weight = l.weight;
			nd.priority = l.priority;
			/* Kamailio flags: 1 inactive, 2 probing, 8 keep-alive (always pinged) */
			nd.state = (l.flags & 1u ? DS_ST_INACTIVE : 0) |
				   (l.flags & 2u ? DS_ST_PROBING : 0);
			nd.lflags = l.flags & DS_LF_PING;
			if (add) {
				rc = ds_table_add(&nd, &why);
			} else {
				struct sip_uri u;
				enum sy_proto pr;

				rc = ds_uri_check(nd.uri, &u, &pr, &why);
			}
		}
		if (rc) {
			if (err)
				fprintf(err, "%s:%u: %s\n", path, lineno, why ? why : strerror(rc));
			bad++;
		}
	}
	if (ferror(f)) {
		if (err)
			fprintf(err, "%s: read error\n", path);
		bad++;
	}
	fclose(f);
	return bad ? EINVAL : 0;
}

/* the column index of name in stmt, -1 when the table has none */
static int col_of(sqlite3_stmt *st, const char *name)
{
	int i, n = sqlite3_column_count(st);

	for (i = 0; i < n; i++)
		if (strcmp(sqlite3_column_name(st, i), name) == 0)
			return i;
	return -1;
}

static sy_str col_str(sqlite3_stmt *st, int c)
{
	const unsigned char *t;

	if (c < 0 || sqlite3_column_type(st, c) == SQLITE_NULL)
		return SY_NULL_STR;
	t = sqlite3_column_text(st, c);
	return t ? sy_str_make((const char *)t, (size_t)sqlite3_column_bytes(st, c))
		 : SY_NULL_STR;
}

/* an integer column (OpenSIPS keeps weight as a string): 0 and *out, or EINVAL */
static int col_int(sqlite3_stmt *st, int c, long dflt, long lo, long hi, long *out)
{
	sy_str s;
	char buf[24], *end;
	long v;

	*out = dflt;
	if (c < 0 || sqlite3_column_type(st, c) == SQLITE_NULL)
		return 0;
	if (sqlite3_column_type(st, c) == SQLITE_INTEGER) {
		sqlite3_int64 x = sqlite3_column_int64(st, c);

		if (x < lo || x > hi)
			return EINVAL;
		*out = (long)x;
		return 0;
	}
	s = col_str(st, c);
	if (!s.len) {
		return 0;
	}
	if (s.len >= sizeof(buf))
		return EINVAL;
	memcpy(buf, s.s, s.len);
	buf[s.len] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || *end || end == buf || v < lo || v > hi)
		return EINVAL;
	*out = v;
	return 0;
}

int ds_load_db(const char *url, const char *table, FILE *err)
{
	static const char pfx[] = "sqlite://";
	const char *path;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char sql[256];
	int rc, c_id, c_set, c_dst, c_sock, c_state, c_w, c_prio, c_attrs, c_desc;
	unsigned bad = 0, row = 0;

	if (strncmp(url, pfx, sizeof(pfx) - 1) != 0 || !url[sizeof(pfx) - 1]) {
		if (err)
			fprintf(err, "%s: db_url must be sqlite:///absolute/path or "
				     "sqlite://relative/path\n", url);
		return EINVAL;
	}
	path = url + sizeof(pfx) - 1;
	if (strspn(table, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	    strlen(table) || !*table) {
		if (err)
			fprintf(err, "%s: table_name '%s' is not a plain SQL name\n", path, table);
		return EINVAL;
	}
	/* read-only: the dispatcher never writes the table (no persistent_state) */
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		if (err)
			fprintf(err, "%s: cannot open the dispatcher database: %s\n", path,
				db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		bad++;
		goto out;
	}
	snprintf(sql, sizeof(sql), "SELECT * FROM %s ORDER BY setid, id", table);
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		/* a table without id: no order but the rows' own */
		snprintf(sql, sizeof(sql), "SELECT * FROM %s", table);
		rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	}
	if (rc != SQLITE_OK) {
		if (err)
			fprintf(err, "%s: cannot read table %s: %s\n", path, table, sqlite3_errmsg(db));
		bad++;
		goto out;
	}
	c_id = col_of(st, "id");
	c_set = col_of(st, "setid");
	c_dst = col_of(st, "destination");
	c_sock = col_of(st, "socket");
	c_state = col_of(st, "state");
	c_w = col_of(st, "weight");
	c_prio = col_of(st, "priority");
	c_attrs = col_of(st, "attrs");
	c_desc = col_of(st, "description");
	if (c_set < 0 || c_dst < 0) {
		if (err)
			fprintf(err, "%s: table %s has no setid or destination column\n", path, table);
		bad++;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ds_new nd;
		const char *why = NULL;
		long setid, state, w, prio, id;

		row++;
		col_int(st, c_id, (long)row, 0, 0x7fffffffL, &id);
		memset(&nd, 0, sizeof(nd));
		if (col_int(st, c_set, -1, 0, 0x7fffffffL, &setid) || setid < 0)
			why = "setid must be a non-negative integer";
		else if (col_int(st, c_state, 0, 0, 2, &state))
			why = "state must be 0 (active), 1 (inactive) or 2 (probing)";
		else if (col_int(st, c_w, 1, 0, 100000, &w))
			why = "weight must be an integer 0..100000";
		else if (col_int(st, c_prio, 0, -1000000, 1000000, &prio))
			why = "priority must be an integer";
		if (!why) {
			nd.setid = (unsigned)setid;
			nd.uri = col_str(st, c_dst);
			nd.socket = col_str(st, c_sock);
			nd.attrs = col_str(st, c_attrs);
			nd.description = col_str(st, c_desc);
			nd.state = state == 1 ? DS_ST_INACTIVE : state == 2 ? DS_ST_PROBING : 0;
			nd.weight = (unsigned)w;
			nd.priority = (int)prio;
			if (!nd.uri.len)
				why = "empty destination";
			else if (ds_table_add(&nd, &why) && !why)
				why = "cannot add the destination";
		}
		if (why) {
			if (err)
				fprintf(err, "%s: table %s row id %ld: %s\n", path, table, id, why);
			bad++;
		}
	}
	if (rc != SQLITE_DONE) {
		if (err)
			fprintf(err, "%s: reading table %s: %s\n", path, table, sqlite3_errmsg(db));
		bad++;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return bad ? EINVAL : 0;
}
