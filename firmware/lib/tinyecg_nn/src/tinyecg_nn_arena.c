/*
 * tinyecg_nn_arena.c - the arena every generated model of the build shares, when the build
 * defines TINYECG_NN_SHARED_ARENA (its size in bytes; see tinyecg_nn.h).
 */
#include "tinyecg_nn.h"

#ifdef TINYECG_NN_SHARED_ARENA
tinyecg_nn_arena_t tinyecg_nn_shared_arena;
#else
typedef int tinyecg_nn_arena_unused; /* ISO C: a translation unit declares something */
#endif
