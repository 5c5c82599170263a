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

/* Calendar date of a day count since 1970-01-01 (proleptic Gregorian),
 * by whole 400-year eras: no gmtime, no locale, no lock. */
static void civil_from_days(int64_t days, int *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] */

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400) + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

size_t clock_format_rfc3339(uint64_t wall_ns, char *buf, size_t len)
{
	uint64_t sec = wall_ns / 1000000000ull, frac = wall_ns % 1000000000ull;
	unsigned secs_of_day = (unsigned)(sec % 86400), m, d;
	int y;
	char *p = buf;

	if (len < 31)
		return 0;
	civil_from_days((int64_t)(sec / 86400), &y, &m, &d);
	if (y < 0 || y > 9999)
		return 0;
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, secs_of_day / 3600, 2);
	*p++ = ':';
	p = put_digits(p, secs_of_day / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, secs_of_day % 60, 2);
	*p++ = '.';
	p = put_digits(p, (unsigned)frac, 9);
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - buf);
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
