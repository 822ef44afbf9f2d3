// SPDX-License-Identifier: MIT
/*
 * Explored: a device unbind racing the shmem SG table and its object.
 */
#include "xt_common.h"
