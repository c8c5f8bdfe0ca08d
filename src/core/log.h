/* log.h: one log line per event on stderr (journald reads it as it is).
 * Not for leaf code: parsers return error codes and never log. */
#ifndef SY_LOG_H
#define SY_LOG_H

enum sy_log_level { SY_L_ALERT = -3, SY_L_CRIT = -2, SY_L_ERR = -1, SY_L_WARN = 1,
		    SY_L_NOTICE = 2, SY_L_INFO = 3, SY_L_DBG = 4 };

/* OpenSIPS numbering: log_level = 3 logs INFO and more severe */
extern int sy_log_level;

void sy_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_ERR(...)  do { if (sy_log_level >= SY_L_ERR) sy_log(SY_L_ERR, __VA_ARGS__); } while (0)
#define LOG_WARN(...) do { if (sy_log_level >= SY_L_WARN) sy_log(SY_L_WARN, __VA_ARGS__); } while (0)
#define LOG_NOTICE(...) do { if (sy_log_level >= SY_L_NOTICE) sy_log(SY_L_NOTICE, __VA_ARGS__); } while (0)
#define LOG_INFO(...) do { if (sy_log_level >= SY_L_INFO) sy_log(SY_L_INFO, __VA_ARGS__); } while (0)
#define LOG_DBG(...)  do { if (sy_log_level >= SY_L_DBG) sy_log(SY_L_DBG, __VA_ARGS__); } while (0)

#endif
