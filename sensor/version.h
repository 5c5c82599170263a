/* version.h - the sensor's version, reported by `vigil version`, logs and
 * /v1/status. VIGIL_EVENT_ABI mirrors bpf/vigil_abi.h's record layout. */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#include "../bpf/vigil_abi.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.1.0-dev"
#endif
#define VIGIL_EVENT_ABI VIGIL_ABI_VERSION

#endif
