/* nathelper.h: NAT traversal helpers of the "nathelper" unit (fix_nated_contact,
 * fix_nated_register, nat_uac_test) and what the registrar asks of them. */
#ifndef MOD_NATHELPER_H
#define MOD_NATHELPER_H

#include <stddef.h>

#include "core/net.h"
#include "core/str.h"
#include "script/api.h"

extern const struct scr_unit nh_unit;

/* nat_uac_test() flags (OpenSIPS numbering) */
#define NH_T_CONTACT_PRIVATE 1	/* Contact URI host is an RFC 1918/6598 address */
#define NH_T_VIA_RECEIVED 2	/* source IP differs from the top Via sent-by */
#define NH_T_VIA_PRIVATE 4	/* top Via sent-by is a private address */
#define NH_T_SDP_PRIVATE 8	/* an SDP c= line holds a private address */
#define NH_T_VIA_PORT 16	/* source port differs from the top Via port */

/* 1 when host (dotted IPv4, or [IPv6]) is private: 10/8, 172.16/12, 192.168/16, 100.64/10
 * (RFC 1918, RFC 6598), fc00::/7 (RFC 4193); 0 otherwise (names included) */
int nh_is_private(sy_str host);

/* the IP of a ("1.2.3.4" or "[::1]", NUL-terminated) and its port: 0 or EAFNOSUPPORT/ENOSPC */
int nh_addr_str(const struct sy_addr *a, char *buf, size_t cap, unsigned *port);

/* nat_uac_test(flags) on ctx: 1 when any requested test is true, -1 otherwise */
int nh_uac_test(const struct scr_ctx *ctx, unsigned flags);

/* fix_nated_contact(): rewrite the first Contact's host:port to the source address (an edit);
 * 0, ENOENT (no Contact), EBADMSG, EINVAL (no edit list), ENOSPC/ENOMEM */
int nh_fix_contact(struct scr_ctx *ctx);

/* fix_nated_register() marks the REGISTER being processed; save() takes the mark (and clears
 * it) to store the binding as NATed, reached at the source address. 1 marked, 0 not. */
void nh_mark_nat(const struct scr_ctx *ctx);
int nh_take_nat_mark(const struct scr_ctx *ctx);

#endif
