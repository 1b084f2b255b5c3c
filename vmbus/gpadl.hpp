// GPADLs (guest physical address descriptor lists): how a guest lends the host pages for a
// channel's rings and buffers. The guest names the pages in a GpadlHeader message and, when they
// do not fit (a SynIC message holds 26 PFNs after the header), in GpadlBody messages; the host
// answers GpadlCreated once all have arrived. GpadlTable assembles them into storage the caller
// provides and refuses anything inconsistent or any page the guest does not own.
#pragma once
#include <stdint.h>

#include "vmbus/messages.hpp"
#include "vmbus/platform.hpp"

namespace vmbus {

// range_buflen is 16 bits and counts 8 bytes for the range descriptor and 8 per page, so a
// one-range GPADL cannot describe more than 8190 pages (32 MiB; netvsc's largest receive buffer is 31).
inline constexpr uint32_t max_gpadl_pages = (0xffff - 8) / 8;

enum class GpadlStatus : uint8_t {
    complete,                // all pages arrived: answer GpadlCreated with success
    incomplete,              // more GpadlBody messages are due
    // Refusals: answer GpadlCreated with a failure status for `gpadl`. Nothing is kept of it.
    not_gpadl_message,
    duplicate_gpadl,         // the id is already assembling or created
    unsupported_range_count, // not exactly one range (Linux always sends one)
    byte_offset_too_large,   // the range starts beyond its first page
    zero_length,
    too_many_pages,          // more than max_gpadl_pages
    range_length_mismatch,   // range_buflen disagrees with the pages the byte count spans
    too_many_pfns,           // more PFNs than the range spans
    unknown_gpadl,           // a body for no GPADL being assembled
    page_not_owned,          // the platform says the guest does not own a page
    no_free_slot,            // no free storage large enough
};
[[nodiscard]] const char* to_string(GpadlStatus s);

// One GPADL's storage (pfns, capacity: the caller's) and state (the table's).
struct Gpadl {
    enum class State : uint8_t { free, assembling, complete };
    uint64_t* pfns = nullptr;
    uint32_t capacity = 0;
    State state = State::free;
    uint32_t child_relid = 0;
    uint32_t id = 0;
    uint32_t byte_offset = 0;   // into the first page
    uint32_t byte_count = 0;
    uint32_t page_count = 0;
    uint32_t received = 0;      // PFNs so far
};

struct GpadlResult {
    GpadlStatus status;
    uint32_t gpadl;         // the id the message named (0 if it named none)
    uint32_t child_relid;   // from the header (0 if unknown)
    const Gpadl* entry;     // when complete
};

// The GPADLs of one guest connection (ids are the guest's and unique per connection). Not
// thread-safe: messages of one connection are handled one at a time, in order.
class GpadlTable {
public:
    GpadlTable(Gpadl* slots, uint32_t count, Platform platform)
        : slots_(slots), count_(count), platform_(platform) {}

    // Feeds a parsed GpadlHeader or GpadlBody.
    [[nodiscard]] GpadlResult add(const Parsed& m);
    // A created GPADL, or null.
    [[nodiscard]] const Gpadl* find(uint32_t id) const;
    // GpadlTeardown (or the channel closing): forgets the GPADL, whatever its state.
    bool release(uint32_t id);

private:
    [[nodiscard]] GpadlResult add_header(const Parsed& m);
    [[nodiscard]] GpadlResult add_body(const Parsed& m);
    [[nodiscard]] Gpadl* slot_of(uint32_t id) const;
    [[nodiscard]] bool append(Gpadl& g, const Parsed& m);

    Gpadl* slots_;
    uint32_t count_;
    Platform platform_;
};

} // namespace vmbus
