/* clock.h - converts between the kernel's boot clock and wall-clock time.
 *
 * The kernel stamps events and task start times with CLOCK_BOOTTIME, which
 * never jumps; users read wall-clock times. The offset between the two is
 * measured once at start (and again on demand after a clock step). */
#ifndef VIGIL_CLOCK_H
#define VIGIL_CLOCK_H

#include <stddef.h>
#include <stdint.h>

void clock_sync(void);
uint64_t clock_boot_now(void);
uint64_t clock_boot_to_wall(uint64_t boot_ns);
uint64_t clock_wall_to_boot(uint64_t wall_ns);
/* RFC 3339 with nanoseconds, UTC: "2026-11-30T08:50:01.123456789Z". */
size_t clock_format_rfc3339(uint64_t wall_ns, char *buf, size_t len);
/* Parses the format above (also with fewer fraction digits); -1 if not. */
int clock_parse_rfc3339(const char *s, uint64_t *wall_ns);

#endif
