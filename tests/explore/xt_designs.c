// SPDX-License-Identifier: MIT
/*
 * Explored: the broken designs of the Rust abstraction's review (the
 * scenario harness's knobs), each in a test that it fails.
 */
#include "xt_common.h"
