// SPDX-License-Identifier: MIT
/*
 * Explored: drm_exec-style locking of a VM's objects and the evict list,
 * and wound/wait cycles.
 */
#include "xt_common.h"
