#ifndef CTAMGA_MEMORY_H
#define CTAMGA_MEMORY_H

#include <string.h>

/// Copies 128 bytes to `destination` (aligned to 16) with non-temporal stores: the destination's
/// cache lines are written whole without being read first. The in-memory state tree places every
/// new node in a slot last touched long ago, and reading that slot's lines in from memory before
/// overwriting them would cost as much as the rest of the update. Follow with
/// `tamga_store_fence` before another thread may read what was written.
static inline void tamga_stream_128(void *destination, const void *source) {
    typedef long long chunk __attribute__((vector_size(16)));
    chunk *target = (chunk *)destination;
    for (int index = 0; index < 8; index++) {
        chunk value;
        memcpy(&value, (const char *)source + 16 * index, 16);
        __builtin_nontemporal_store(value, target + index);
    }
}

/// Orders the non-temporal stores before it ahead of every store after it.
static inline void tamga_store_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

#endif
