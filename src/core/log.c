/* log.c: stderr logger. One fprintf per line keeps lines whole across worker threads
 * (stdio locks the stream per call). */
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"

int sy_log_level = SY_L_NOTICE;

static const char *level_name(int level)
{
	switch (level) {
	case SY_L_ALERT: return "ALERT";
	case SY_L_CRIT: return "CRIT";
	case SY_L_ERR: return "ERROR";
	case SY_L_WARN: return "WARNING";
	case SY_L_NOTICE: return "NOTICE";
	case SY_L_INFO: return "INFO";
	default: return "DBG";
	}
}

void sy_log(int level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "%s: ", level_name(level));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}
