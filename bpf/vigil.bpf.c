/* vigil.bpf.c - the maps and knobs every Vigil program shares.
 *
 * Defined here once; the feature files declare them extern through
 * common.bpf.h, and the build links every .bpf.o into one object so user
 * space loads a single skeleton. */
#include "common.bpf.h"

struct events_map events SEC(".maps");
struct counters_map counters SEC(".maps");
struct scratch_map scratch SEC(".maps");

const volatile __u64 wakeup_bytes = VIGIL_WAKEUP_BYTES_DEFAULT;
const volatile __u32 emit_threads = 1;
volatile __u64 enabled_events = 0;

char LICENSE[] SEC("license") = "GPL";
