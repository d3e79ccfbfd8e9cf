#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "core/clock.h"

static atomic_int g_level = LOG_INFO;

void log_set_level(enum log_level level) { atomic_store(&g_level, level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&g_level); }

void log_msg(enum log_level level, const char *module, const char *fmt, ...)
{
	static const char *names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
	char line[2048], ts[32];
	va_list ap;

	if ((int)level < atomic_load(&g_level))
		return;
	clock_format_rfc3339_ms(clock_now_ms(), ts, sizeof ts);
	int n = snprintf(line, sizeof line, "%s %-5s [%s] ", ts, names[level], module);
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	/* One write(2) per record keeps concurrent lines whole. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
