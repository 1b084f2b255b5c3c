// libFuzzer target over the VMBus channel-message parser (vmbus/messages.hpp) and GPADL
// assembly (vmbus/gpadl.hpp). The input is a sequence of messages from a hostile guest: raw bytes,
// or GPADL headers and bodies synthesized from a few fuzzer-chosen fields so that assembly is
// reached deep (a raw header rarely gets range_buflen right). Every message is copied into an
// allocation of its exact size first, so ASan stops a read past its end. Beyond the sanitizers,
// it checks parse()'s contract and that a created GPADL is consistent and owned page by page.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <memory>

#include "tests/fuzz/vmbus_fuzz_input.hpp"
#include "vmbus/gpadl.hpp"

using namespace vmbus;

namespace {

using vmbus_fuzz::Input;

// The guest owns every page below 2^40 except multiples of 13.
bool owns(void*, uint64_t page) { return page < (uint64_t{1} << 40) && page % 13 != 0; }

void check_parsed(const Parsed& m, uint32_t size) {
    CHECK(size >= 8 && size <= max_message_size && m.size() == size);
    const auto type = static_cast<uint32_t>(m.type());
    CHECK(type >= 1 && type < message_type_count);
    CHECK((m.as<OfferChannel>() != nullptr) == (m.type() == MessageType::offer_channel));
    if (m.as<OfferChannel>() != nullptr)
        CHECK(size >= sizeof(OfferChannel));
    if (m.as<InitiateContact>() != nullptr)
        CHECK(size >= sizeof(InitiateContact));
    if (m.type() == MessageType::gpadl_header)
        CHECK(size == 28 + 8 * m.pfn_count());
    else if (m.type() == MessageType::gpadl_body)
        CHECK(size == 16 + 8 * m.pfn_count() && m.pfn_count() > 0);
    else
        CHECK(m.pfn_count() == 0);
}

void check_created(const Gpadl& g) {
    CHECK(g.state == Gpadl::State::complete);
    CHECK(g.byte_offset < page_size && g.byte_count > 0);
    CHECK(g.page_count == (uint64_t{g.byte_offset} + g.byte_count + page_size - 1) / page_size);
    CHECK(g.received == g.page_count && g.page_count <= g.capacity && g.page_count <= max_gpadl_pages);
    for (uint32_t i = 0; i < g.page_count; i++)
        CHECK(owns(nullptr, g.pfns[i]));
}

// Builds a GPADL header or body from a few fields into out; returns its size.
uint32_t synthesize(Input& in, bool header, uint8_t* out) {
    const uint32_t id = in.u8() % 4;
    const uint32_t npfn = in.u8() % 29;
    const uint64_t first = in.u8() & 1 ? in.take(8) : in.u16();
    uint32_t size;
    if (header) {
        const uint32_t offset = in.u8() & 1 ? in.u16() % 4200 : 0;
        const uint32_t count = in.u8() & 1 ? in.u32() : in.u16() * 16u;
        const uint64_t pages = (uint64_t{offset} + count + 4095) / 4096;
        GpadlHeader h = make_message<GpadlHeader>();
        h.gpadl = id;
        h.range_count = in.u8() & 1 ? in.u16() : 1;
        h.range_buflen = static_cast<uint16_t>(8 + 8 * pages + static_cast<int8_t>(in.u8() & 0x98));
        memcpy(out, &h, sizeof h);
        memcpy(out + 20, &count, 4);
        memcpy(out + 24, &offset, 4);
        size = 28;
        if (npfn > 26)
            return size;
    } else {
        GpadlBody b = make_message<GpadlBody>();
        b.gpadl = id;
        memcpy(out, &b, sizeof b);
        size = 16;
    }
    for (uint32_t i = 0; i < npfn && size + 8 <= max_message_size; i++, size += 8) {
        const uint64_t pfn = first + i;
        memcpy(out + size, &pfn, 8);
    }
    return size;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    // Storage: a small slot, a medium one, and one of the largest GPADL.
    static uint64_t small[4], medium[64], large[max_gpadl_pages];
    Gpadl slots[3];
    slots[0].pfns = small;
    slots[0].capacity = 4;
    slots[1].pfns = medium;
    slots[1].capacity = 64;
    slots[2].pfns = large;
    slots[2].capacity = max_gpadl_pages;
    GpadlTable table(slots, 3, Platform{nullptr, owns});

    while (in.n) {
        const uint8_t kind = in.u8();
        uint8_t built[max_message_size + 16];
        uint32_t len;
        if (kind % 4 < 2) {   // raw bytes, up to 255 (beyond a SynIC message on purpose)
            len = in.u8();
            len = len < in.n ? len : static_cast<uint32_t>(in.n);
            memcpy(built, in.p, len < sizeof built ? len : sizeof built);
            len = len < sizeof built ? len : sizeof built;
            in.p += len;
            in.n -= len;
        } else {
            len = synthesize(in, kind % 4 == 2, built);
        }
        auto bytes = std::make_unique<uint8_t[]>(len);
        memcpy(bytes.get(), built, len);
        Parsed m;
        const MessageError e = parse(bytes.get(), len, m);
        if (e != MessageError::ok) {
            CHECK(m.type() == MessageType::invalid);
            continue;
        }
        check_parsed(m, len);
        if (kind & 0x80) {   // teardown instead, of the id the message names
            if (const GpadlHeader* h = m.as<GpadlHeader>())
                (void)table.release(h->gpadl);
            continue;
        }
        const GpadlResult r = table.add(m);
        const bool gpadl = m.type() == MessageType::gpadl_header || m.type() == MessageType::gpadl_body;
        CHECK(gpadl || r.status == GpadlStatus::not_gpadl_message);
        CHECK((r.entry != nullptr) == (r.status == GpadlStatus::complete));
        if (r.entry != nullptr) {
            check_created(*r.entry);
            CHECK(table.find(r.gpadl) == r.entry);
        }
    }
    for (const Gpadl& g : slots)
        if (g.state == Gpadl::State::complete)
            check_created(g);
    return 0;
}
