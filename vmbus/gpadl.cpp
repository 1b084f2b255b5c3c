#include "vmbus/gpadl.hpp"

namespace vmbus {

const char* to_string(GpadlStatus s) {
    switch (s) {
    case GpadlStatus::complete: return "complete";
    case GpadlStatus::incomplete: return "incomplete";
    case GpadlStatus::not_gpadl_message: return "not a GPADL message";
    case GpadlStatus::duplicate_gpadl: return "duplicate GPADL id";
    case GpadlStatus::unsupported_range_count: return "range count not 1";
    case GpadlStatus::byte_offset_too_large: return "byte offset beyond the first page";
    case GpadlStatus::zero_length: return "zero length";
    case GpadlStatus::too_many_pages: return "too many pages";
    case GpadlStatus::range_length_mismatch: return "range length mismatch";
    case GpadlStatus::too_many_pfns: return "more PFNs than announced";
    case GpadlStatus::unknown_gpadl: return "unknown GPADL";
    case GpadlStatus::page_not_owned: return "page not owned by the guest";
    case GpadlStatus::no_free_slot: return "no free GPADL slot";
    }
    return "?";
}

Gpadl* GpadlTable::slot_of(uint32_t id) const {
    for (uint32_t i = 0; i < count_; i++)
        if (slots_[i].state != Gpadl::State::free && slots_[i].id == id)
            return &slots_[i];
    return nullptr;
}

const Gpadl* GpadlTable::find(uint32_t id) const {
    const Gpadl* g = slot_of(id);
    return g != nullptr && g->state == Gpadl::State::complete ? g : nullptr;
}

bool GpadlTable::release(uint32_t id) {
    Gpadl* g = slot_of(id);
    if (g == nullptr)
        return false;
    g->state = Gpadl::State::free;
    return true;
}

GpadlResult GpadlTable::add(const Parsed& m) {
    if (m.as<GpadlHeader>() != nullptr)
        return add_header(m);
    if (m.as<GpadlBody>() != nullptr)
        return add_body(m);
    return {GpadlStatus::not_gpadl_message, 0, 0, nullptr};
}

// Appends the message's PFNs; the caller checked they fit. Every page is checked before any is
// kept, so a refused message leaves nothing behind.
bool GpadlTable::append(Gpadl& g, const Parsed& m) {
    const uint32_t n = m.pfn_count();
    for (uint32_t i = 0; i < n; i++)
        if (!platform_.owns(m.pfn(i)))
            return false;
    for (uint32_t i = 0; i < n; i++)
        g.pfns[g.received + i] = m.pfn(i);
    g.received += n;
    return true;
}

GpadlResult GpadlTable::add_header(const Parsed& m) {
    const GpadlHeader& h = *m.as<GpadlHeader>();
    GpadlResult r{GpadlStatus::complete, h.gpadl, h.child_relid, nullptr};
    auto with = [&r](GpadlStatus s) {
        r.status = s;
        return r;
    };
    if (slot_of(h.gpadl) != nullptr)
        return with(GpadlStatus::duplicate_gpadl);
    if (h.range_count != 1)
        return with(GpadlStatus::unsupported_range_count);
    const uint32_t offset = m.range_byte_offset();
    const uint32_t bytes = m.range_byte_count();
    if (offset >= page_size)
        return with(GpadlStatus::byte_offset_too_large);
    if (bytes == 0)
        return with(GpadlStatus::zero_length);
    // 64-bit: offset + bytes + page_size - 1 cannot wrap there.
    const uint64_t pages = (uint64_t{offset} + bytes + page_size - 1) / page_size;
    if (pages > max_gpadl_pages)
        return with(GpadlStatus::too_many_pages);
    if (h.range_buflen != 8 + 8 * pages)
        return with(GpadlStatus::range_length_mismatch);
    if (m.pfn_count() > pages)
        return with(GpadlStatus::too_many_pfns);

    Gpadl* slot = nullptr;
    for (uint32_t i = 0; i < count_ && slot == nullptr; i++)
        if (slots_[i].state == Gpadl::State::free && slots_[i].pfns != nullptr && slots_[i].capacity >= pages)
            slot = &slots_[i];
    if (slot == nullptr)
        return with(GpadlStatus::no_free_slot);
    Gpadl& g = *slot;
    g.child_relid = h.child_relid;
    g.id = h.gpadl;
    g.byte_offset = offset;
    g.byte_count = bytes;
    g.page_count = static_cast<uint32_t>(pages);
    g.received = 0;
    if (!append(g, m))
        return with(GpadlStatus::page_not_owned);
    g.state = g.received == g.page_count ? Gpadl::State::complete : Gpadl::State::assembling;
    if (g.state == Gpadl::State::assembling)
        return with(GpadlStatus::incomplete);
    r.entry = &g;
    return r;
}

GpadlResult GpadlTable::add_body(const Parsed& m) {
    const GpadlBody& b = *m.as<GpadlBody>();
    Gpadl* g = slot_of(b.gpadl);
    if (g == nullptr || g->state != Gpadl::State::assembling)
        return {GpadlStatus::unknown_gpadl, b.gpadl, 0, nullptr};
    GpadlResult r{GpadlStatus::complete, b.gpadl, g->child_relid, nullptr};
    // A GPADL that broke the rules is dropped whole: the guest gets one failure for it.
    if (m.pfn_count() > g->page_count - g->received) {
        g->state = Gpadl::State::free;
        r.status = GpadlStatus::too_many_pfns;
        return r;
    }
    if (!append(*g, m)) {
        g->state = Gpadl::State::free;
        r.status = GpadlStatus::page_not_owned;
        return r;
    }
    if (g->received < g->page_count) {
        r.status = GpadlStatus::incomplete;
        return r;
    }
    g->state = Gpadl::State::complete;
    r.entry = g;
    return r;
}

} // namespace vmbus
