// The refusal logs of the portable core (the server's faults, the storvsc target's refusals, the
// IC ends' faults): the last N entries, the oldest overwritten, and a count of every one, so a
// hostile peer can fill it but never grow it. `Reason` is the entry's member that says why.
#pragma once
#include <stdint.h>

namespace vmbus {

template <class Entry, uint32_t N, auto Reason> class BoundedLog {
public:
    static constexpr uint32_t log_entries = N;

    void add(Entry e) { entries_[total_++ % N] = e; }
    [[nodiscard]] uint64_t total() const { return total_; }
    [[nodiscard]] uint32_t size() const { return total_ < N ? static_cast<uint32_t>(total_) : N; }
    // i = 0 is the oldest entry kept.
    [[nodiscard]] const Entry& at(uint32_t i) const { return entries_[(total_ - size() + i) % N]; }
    [[nodiscard]] const Entry* last() const { return total_ == 0 ? nullptr : &at(size() - 1); }
    template <class R> [[nodiscard]] bool contains(R r) const {
        for (uint32_t i = 0; i < size(); i++)
            if (at(i).*Reason == r)
                return true;
        return false;
    }
    // Calls f(entry) for each entry kept that came after the first `seen` ones (those already
    // reported, say); returns total(), the `seen` of the next call.
    template <class F> uint64_t each_since(uint64_t seen, F f) const {
        const uint64_t oldest = total_ - size();
        for (uint64_t k = seen > oldest ? seen : oldest; k < total_; k++)
            f(at(static_cast<uint32_t>(k - oldest)));
        return total_;
    }

private:
    Entry entries_[N] = {};
    uint64_t total_ = 0;
};

} // namespace vmbus
