/* main.c: the switchyard binary: load and check the script, set up the listens, start the
 * workers, and stop them cleanly on SIGTERM/SIGINT (the main thread only waits for signals;
 * every worker runs with them blocked, so no handler ever runs inside a worker). Or, with
 * --trace, run one captured message through the script offline (src/proxy/trace.c). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/version.h"
#include "core/worker.h"
#include "mgmt/mgmt.h"
#include "proxy/proxy.h"
#include "tm/tm.h"
#include "tp/tp.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: switchyard -f FILE       run in the foreground, logs on stderr\n"
		   "       switchyard -c -f FILE    check the config and exit (0 ok, 1 errors)\n"
		   "       switchyard --trace MSGFILE [--src udp:IP:PORT] -f FILE\n"
		   "                                run one captured message (- = stdin) through\n"
		   "                                the script offline: print each route, action\n"
		   "                                and message that would be sent\n"
		   "       switchyard -V            version\n"
		   "       switchyard -h            this help\n");
}

/* every `listen =` of the script (default udp:127.0.0.1:5060); host names resolved now */
static int setup_listens(void)
{
	unsigned i, n = scr_listen_count(px_prog);
	int rc;

	if (n == 0)
		return tp_listen_add(SY_PROTO_UDP, SY_STR("127.0.0.1"), 5060, NULL);
	for (i = 0; i < n; i++) {
		const struct scr_listen *l = scr_listen_get(px_prog, i);

		rc = tp_listen_add(l->proto, l->host, l->port, NULL);
		if (rc == EINVAL && px_dns_add(l->host) == 0) {
			/* a host name: listen on what it resolves to */
			struct sy_dest d;
			char uri[300], ip[64];
			int k = snprintf(uri, sizeof(uri), "sip:%.*s", SY_FMT(l->host));

			if (k > 0 && (size_t)k < sizeof(uri) &&
			    px_resolve(sy_str_make(uri, (size_t)k), &d) == 0) {
				size_t iplen = tp_addr_ip(&d.addr, ip, sizeof(ip));

				rc = tp_listen_add(l->proto, sy_str_make(ip, iplen), l->port, NULL);
			}
		}
		if (rc) {
			LOG_ERR("listen %.*s:%u: %s", SY_FMT(l->host), l->port,
				rc == EPROTONOSUPPORT ? "transport not supported" : strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* --trace: the listens (no sockets), the units' init (a configured store is used), a loop for
 * this thread whose timers never run, sends printed instead of sent; then one message through
 * px_recv and what tm is left holding. Exit code: 0, 1 (unreadable file, message that does not
 * parse, init failure), 2 (bad --src). */
static int run_trace(const char *msgpath, const char *src)
{
	struct sy_rcvinfo rcv;
	struct tm_summary sum;
	struct sy_loop *l = NULL;
	char *buf = NULL;
	size_t len;
	int rc, ret = 1;

	rc = px_trace_read(msgpath, &buf, &len);
	if (rc) {
		fprintf(stderr, "switchyard: --trace %s: %s\n", msgpath,
			rc == ENODATA ? "empty message" : rc == EFBIG ? "larger than 1 MB, not a SIP message"
			: strerror(rc));
		goto out;
	}
	rc = setup_listens();
	if (!rc)
		rc = px_init();
	if (rc)
		goto out;
	rc = px_trace_source(src, &rcv);
	if (rc) {
		fprintf(stderr, "switchyard: --src %s: %s\n", src,
			rc == ENOENT ? "the config has no listen of that transport"
				     : "expected PROTO:IP:PORT, e.g. udp:127.0.0.1:5062 or tcp:[::1]:5062");
		ret = rc == ENOENT ? 1 : 2;
		goto out;
	}
	if ((rc = scr_units_init(px_prog)) != 0) {
		LOG_ERR("module initialisation failed: %s", strerror(rc));
		goto out;
	}
	l = sy_loop_new(0);
	if (!l)
		goto out;
	px_trace_start(stdout);
	px_run_startup();
	rc = px_trace_message(&rcv, buf, len);
	if (scr_unit_loaded(px_prog, "tm")) {
		tm_summary(&sum, NULL);
		printf("tm: %u transaction%s, %u branch%s pending", sum.trans, sum.trans == 1 ? "" : "s",
		       sum.branches, sum.branches == 1 ? "" : "es");
		if (sum.zombies)
			printf(", %u completed kept for retransmissions", sum.zombies);
		putchar('\n');
		tm_summary(&sum, stdout);
	}
	fflush(stdout);
	if (rc == EBADMSG)
		fprintf(stderr, "switchyard: --trace %s: the message does not parse\n", msgpath);
	else if (rc)
		fprintf(stderr, "switchyard: --trace %s: %s\n", msgpath, strerror(rc));
	ret = rc ? 1 : 0;
out:
	px_trace_start(NULL);
	if (l) {
		tm_worker_fini();
		sy_loop_free(l);
	}
	sy_worker_arena_free();
	free(buf);
	return ret;
}

static int worker_init(struct sy_loop *l, int idx, void *arg)
{
	int rc;

	(void)arg;
	rc = tp_worker_init(l, idx);
	if (!rc && idx == 0 && (rc = px_timer_routes_start(l)) != 0)
		tp_worker_fini();
	return rc;
}

static void worker_fini(struct sy_loop *l, int idx, void *arg)
{
	(void)l;
	(void)arg;
	if (idx == 0)
		px_timer_routes_stop();
	tp_worker_fini();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "trace", required_argument, NULL, 't' },
		{ "src", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static const char dflt_src[] = "udp:127.0.0.1:5062";
	const char *file = NULL, *trace = NULL, *src = dflt_src;
	int check = 0, opt, rc, workers, sig;
	struct tp_tcp_cfg tcp;
	sigset_t ss;

	while ((opt = getopt_long(argc, argv, "cf:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': check = 1; break;
		case 'f': file = optarg; break;
		case 't': trace = optarg; break;
		case 's': src = optarg; break;
		case 'V': printf("%s\n", SY_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!file || optind != argc || (src != dflt_src && !trace)) {
		usage(stderr);
		return 2;
	}
	rc = scr_load(file, stderr, &px_prog);
	if (rc || !px_prog)
		return 1;
	/* names the script routes to are resolved now: a worker never waits for DNS */
	if (px_dns_add_script(px_prog, stderr)) {
		scr_free(px_prog);
		return 1;
	}
	if (check) {
		scr_free(px_prog);
		return 0;
	}
	sy_log_level = (int)scr_global_int(px_prog, "log_level", sy_log_level);
	if (trace) {
		mgmt_offline = 1;	/* an offline run opens no management port */
		rc = run_trace(trace, src);
		scr_free(px_prog);
		px_prog = NULL;
		px_dns_reset();
		return rc;
	}
	workers = (int)scr_global_int(px_prog, "workers",
				      scr_global_int(px_prog, "children", sy_cpu_count()));
	memset(&tcp, 0, sizeof(tcp));
	tcp.lifetime_ms = (unsigned)scr_global_int(px_prog, "tcp_connection_lifetime", 120) * 1000u;
	tcp.max_per_ip = (unsigned)scr_global_int(px_prog, "tcp_max_connections_per_ip", 64);
	tp_tcp_configure(&tcp);
	rc = setup_listens();
	if (!rc)
		rc = px_init();
	if (!rc && (rc = scr_units_init(px_prog)) != 0)
		LOG_ERR("module initialisation failed: %s", strerror(rc));
	if (rc)
		goto out;
	px_run_startup();

	/* block the stop signals in every thread; the main thread takes them with sigwait */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = sy_workers_start(workers, worker_init, worker_fini, NULL);
	if (rc)
		goto out;
	LOG_NOTICE("%s running: %d workers, %u listens", SY_VERSION, workers,
		   tp_listen_count());
	do
		rc = sigwait(&ss, &sig);
	while (rc == EINTR);
	LOG_NOTICE("signal %d: stopping", sig);
	sy_workers_stop();
	rc = 0;
out:
	scr_free(px_prog);
	px_prog = NULL;
	px_dns_reset();
	return rc ? 1 : 0;
}
