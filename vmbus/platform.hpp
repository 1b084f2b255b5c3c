// The thin layer between the portable VMBus core and the end it runs in (the root partition's
// kernel, a child's client, a Linux user-space root, the host tests). The core touches memory the
// peer shares with it only through the accessors below, and asks the end about guest pages only
// through Platform, so nothing in vmbus/ knows how pages are mapped or who owns them.
#pragma once
#include <stdint.h>

namespace vmbus {

inline constexpr uint32_t page_size = 4096;

// The peer writes shared memory concurrently and may be hostile: every field is read with one
// load into a local (never re-read after it was checked), and the ordering between the data and
// the indices follows the ring protocol (ring.hpp). The __atomic builtins give that ordering
// without libc, in the freestanding images as on the host.
namespace shared {

[[nodiscard]] inline uint32_t load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
[[nodiscard]] inline uint32_t load_acquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
inline void store_release(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
// A full barrier: a store before it is visible before any load after it (x86 needs MFENCE for
// that; acquire/release alone allow store-load reordering).
inline void full_fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Bulk copies between shared and private memory. The copy may observe a torn value while the
// peer writes; callers only ever interpret the private copy, after the copy. An empty copy may
// come with a null pointer, which memcpy must not see.
inline void copy_out(void* dst, const uint8_t* src, uint32_t n) {
    if (n != 0)
        __builtin_memcpy(dst, src, n);
}
inline void copy_in(uint8_t* dst, const void* src, uint32_t n) {
    if (n != 0)
        __builtin_memcpy(dst, src, n);
}

} // namespace shared

// What the end running the core knows about guest memory. The root supplies owns_page so that a
// GPADL naming a page the child does not own is refused (gpadl.hpp); a null function owns nothing,
// so forgetting it fails closed.
struct Platform {
    void* context = nullptr;
    bool (*owns_page)(void* context, uint64_t gpa_page) = nullptr;

    [[nodiscard]] bool owns(uint64_t gpa_page) const {
        return owns_page != nullptr && owns_page(context, gpa_page);
    }
};

// How the root's VMBus server (server.hpp) reaches the child it serves. The root kernel backs
// these with its SynIC ports; the host tests and the fuzzer with fakes. Null functions fail closed:
// nothing is posted, signalled or mapped.
struct ServerTransport {
    void* context = nullptr;
    // Posts one channel-management message to the child's `sint` on its VP `target_vp` (the
    // root's message port to the child; HvPostMessage, message type 1). False: the child's queue
    // is full (HV_STATUS_INSUFFICIENT_BUFFERS) and the server keeps the message to retry.
    bool (*post)(void* context, uint32_t target_vp, uint8_t sint, const void* message, uint32_t size) = nullptr;
    // Signals a channel to the child: event flag `child_relid` in its SIEFP slot for SINT 2 on VP
    // `target_vp` (the root's event port to that VP; HvSignalEvent with flag number = relid).
    void (*signal)(void* context, uint32_t target_vp, uint32_t child_relid) = nullptr;
    // Maps `pages` guest pages from `first_pfn` for the root, contiguous in the root's address
    // space and page-aligned; null when any page is not the child's or cannot be mapped so.
    uint8_t* (*map)(void* context, uint64_t first_pfn, uint32_t pages) = nullptr;
    // Undoes map() (the channel closed); the server never touches `base` afterwards.
    void (*unmap)(void* context, uint8_t* base, uint32_t pages) = nullptr;
};

// How a child's VMBus client (client.hpp) reaches the root.
struct ClientTransport {
    void* context = nullptr;
    // HvPostMessage of one channel-management message on `connection_id` (4 or 1 for contact,
    // then the negotiated one). False: not delivered (the caller may retry the operation).
    bool (*post)(void* context, uint32_t connection_id, const void* message, uint32_t size) = nullptr;
    // HvSignalEvent on a channel's connection id (its offer's connection_id, flag 0).
    void (*signal)(void* context, uint32_t connection_id) = nullptr;
};

} // namespace vmbus
