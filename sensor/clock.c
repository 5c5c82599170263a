/* clock.c - see clock.h. */
#include "clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int64_t wall_minus_boot;

static uint64_t read_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void clock_sync(void)
{
	/* Bracket the wall read between two boot reads to halve the error. */
	uint64_t b1 = read_clock(CLOCK_BOOTTIME);
	uint64_t w = read_clock(CLOCK_REALTIME);
	uint64_t b2 = read_clock(CLOCK_BOOTTIME);

	atomic_store(&wall_minus_boot, (int64_t)(w - (b1 + (b2 - b1) / 2)));
}

uint64_t clock_boot_now(void)
{
	return read_clock(CLOCK_BOOTTIME);
}

uint64_t clock_boot_to_wall(uint64_t boot_ns)
{
	if (atomic_load(&wall_minus_boot) == 0)
		clock_sync();
	return boot_ns + (uint64_t)atomic_load(&wall_minus_boot);
}

uint64_t clock_wall_to_boot(uint64_t wall_ns)
{
	if (atomic_load(&wall_minus_boot) == 0)
		clock_sync();
	return wall_ns - (uint64_t)atomic_load(&wall_minus_boot);
}

size_t clock_format_rfc3339(uint64_t wall_ns, char *buf, size_t len)
{
	/* Events come in bursts within one second: format its date once. */
	static _Thread_local time_t cached_sec = -1;
	static _Thread_local char cached[32];
	static _Thread_local size_t cached_len;
	time_t sec = (time_t)(wall_ns / 1000000000ull);
	uint64_t frac = wall_ns % 1000000000ull;
	struct tm tm;

	if (sec != cached_sec) {
		gmtime_r(&sec, &tm);
		cached_len = strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		if (cached_len == 0)
			return 0;
		cached_sec = sec;
	}
	if (len < cached_len + 12)
		return 0;
	memcpy(buf, cached, cached_len);
	buf[cached_len] = '.';
	for (int i = 9; i >= 1; i--) {
		buf[cached_len + (size_t)i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	buf[cached_len + 10] = 'Z';
	buf[cached_len + 11] = '\0';
	return cached_len + 11;
}

int clock_parse_rfc3339(const char *s, uint64_t *wall_ns)
{
	struct tm tm;
	const char *p;
	uint64_t frac = 0;
	int digits = 0;
	time_t sec;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				digits++;
			}
		}
		if (digits == 0)
			return -1;
		while (digits++ < 9)
			frac *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	sec = timegm(&tm);
	if (sec < 0)
		return -1;
	*wall_ns = (uint64_t)sec * 1000000000ull + frac;
	return 0;
}
