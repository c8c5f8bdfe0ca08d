/* http.h: the management listener's HTTP/1.1 request parser (RFC 9112). Leaf code: it reads a
 * buffer the caller owns, fills slices into it, and never allocates, logs or keeps state, so
 * the caller simply parses again from the start of its buffer when more bytes came in (a
 * request head is bounded by max_head, so that costs little). Strict on purpose: anything
 * RFC 9112 lets a server reject is rejected with a code the server maps to a status. */
#ifndef MGMT_HTTP_H
#define MGMT_HTTP_H

#include <stddef.h>

#include "core/str.h"

enum mgmt_http_method { MGMT_HTTP_GET, MGMT_HTTP_HEAD, MGMT_HTTP_POST };

struct mgmt_http_limits {
	size_t max_head;	/* request line + header fields + the empty line */
	size_t max_body;	/* Content-Length above it: EMSGSIZE */
};

struct mgmt_http_req {
	enum mgmt_http_method method;
	sy_str path;		/* origin-form path, without the query */
	sy_str query;		/* after '?', empty when none */
	int minor;		/* HTTP/1.minor: 0 or 1 */
	int keep_alive;		/* the connection stays open after the response (§9.3) */
	int expect_continue;	/* "Expect: 100-continue" */
	sy_str content_type;
	sy_str body;		/* Content-Length bytes (empty without one) */
	size_t head_len;	/* bytes up to and including the empty line */
	size_t len;		/* the whole request (head + body); consume this much */
};

/* Parse one request at the start of buf[0..len).
 * 0            complete: *req filled, req->len bytes belong to it (pipelined requests follow)
 * EAGAIN       incomplete head: read more
 * EINPROGRESS  head complete, body incomplete: *req filled but for body (answer
 *              "100 Continue" when req->expect_continue), read more
 * EBADMSG      malformed: 400           ENODATA   POST without Content-Length: 411
 * E2BIG        head over max_head: 431  EMSGSIZE  body over max_body: 413
 * ENOTSUP      method we do not implement, or a Transfer-Encoding: 501
 * EPROTONOSUPPORT  not HTTP/1.0 or HTTP/1.1: 505 */
int mgmt_http_parse(const char *buf, size_t len, const struct mgmt_http_limits *lim,
		    struct mgmt_http_req *req);

/* the status line text of the codes the listener uses ("Not Found"); "" for others */
const char *mgmt_http_reason(unsigned code);

#endif
