// Who holds each frame of the root's memory (issue: "an account of every page each partition
// holds"). One byte per 4 KiB frame over the root's RAM span:
//   root             the root's, mapped in the root only;
//   mapped(slot)     the root's, also mapped into child `slot` (MapGpaPages) — never into two;
//   deposited(slot)  given to the hypervisor for child `slot` (DepositMemory): unmapped from the
//                    root, used for that child's VPs and tables, handed back on withdraw/delete;
//   foreign          not the root's RAM (hypervisor memory, device ranges, holes).
// Pure: the caller provides the byte array (hypervisor pool memory) and does the mapping.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace partitions {

inline constexpr uint8_t kMaxChildSlots = 126;

class PageLedger {
public:
    static constexpr uint8_t root = 0, foreign = 0xff;
    static constexpr uint8_t mapped(uint8_t slot) { return slot; }                    // 1..126
    static constexpr uint8_t deposited(uint8_t slot) { return static_cast<uint8_t>(0x80 | slot); }

    // Bytes of storage for frames [first, end).
    static constexpr uint64_t bytes_for(uint64_t first_frame, uint64_t end_frame) { return end_frame - first_frame; }
    // All frames start `foreign`; the caller then marks the root's RAM with set_range(root).
    void init(uint8_t* storage, uint64_t first_frame, uint64_t end_frame);
    void set_range(uint64_t frame, uint64_t count, uint8_t owner);

    [[nodiscard]] uint8_t owner(uint64_t frame) const {
        return frame >= first_ && frame < end_ ? bytes_[frame - first_] : foreign;
    }
    // Atomically (for the caller's lock) moves a frame from `from` to `to`; false if it was not `from`.
    [[nodiscard]] bool transfer(uint64_t frame, uint8_t from, uint8_t to);
    [[nodiscard]] uint64_t count(uint8_t owner) const;
    // Calls fn(frame) for every frame held as `owner` (delete returns them all).
    template <class F> void for_each(uint8_t owner, F&& fn) const {
        for (uint64_t f = first_; f < end_; f++)
            if (bytes_[f - first_] == owner)
                fn(f);
    }
    [[nodiscard]] uint64_t first_frame() const { return first_; }
    [[nodiscard]] uint64_t end_frame() const { return end_; }

private:
    uint8_t* bytes_ = nullptr;
    uint64_t first_ = 0, end_ = 0;
};

} // namespace partitions
