// QEMU's firmware configuration device (fw_cfg), traditional I/O-port interface only, as
// specified in QEMU's docs/specs/fw_cfg: a 16-bit write of a key to the selector port picks an
// item and rewinds it; 8-bit reads of the data port then return its bytes in turn. Reads past an
// item's end, and every read of an unknown key, return 0. Integer items are little-endian; the
// file directory is big-endian. DMA (ID bit 1) is not offered, so port 0x514 stays unclaimed.
// Pure state machine over caller-owned file bytes: no heap, every port sequence is safe.
#pragma once
#include "partitions/devices/port_device.hpp"

#include <stddef.h>
#include <stdint.h>

namespace devices {

enum class FwCfgError : uint8_t { ok, name_empty, name_too_long, duplicate_name, full, no_data };

[[nodiscard]] const char* describe(FwCfgError e);

class FwCfg {
  public:
    static constexpr uint16_t selector_port = 0x510, data_port = 0x511;
    // Keys ("Selector Register", "Firmware Configuration Items"). Bit 14 marks the write
    // channel (writes are ignored since QEMU 2.4; reads behave as without it); bit 15 selects
    // architecture-specific items, of which we offer none.
    static constexpr uint16_t key_signature = 0x0000, key_id = 0x0001, key_uuid = 0x0002,
                              key_ram_size = 0x0003, key_nb_cpus = 0x0005, key_max_cpus = 0x000f,
                              key_file_dir = 0x0019, key_file_first = 0x0020;
    static constexpr uint16_t key_write_channel = 0x4000;
    static constexpr uint32_t id_traditional = 1u << 0;
    static constexpr size_t max_files = 32;
    static constexpr size_t name_size = 56; // "FWCfgFile": NUL-terminated, so 55 characters
    static constexpr size_t dir_entry_size = 64;

    FwCfg(uint64_t ram_size, uint16_t cpus, uint16_t max_cpus);

    void set_uuid(const uint8_t (&uuid)[16]) { __builtin_memcpy(uuid_, uuid, 16); }
    // Exposes `size` bytes at `data` (which must outlive the device) under `name`, e.g.
    // "opt/hv/config"; the key is returned in `key` (0x20 upward, in order of addition).
    [[nodiscard]] FwCfgError add_file(const char* name, const uint8_t* data, uint32_t size, uint16_t& key);
    [[nodiscard]] size_t file_count() const { return file_count_; }

    // PortDevice.
    [[nodiscard]] bool claims(uint16_t port) const { return port == selector_port || port == data_port; }
    // 8-bit data reads are the only reads; other ports and widths read as an unclaimed port does.
    [[nodiscard]] uint32_t read(uint16_t port, uint8_t size);
    // 16-bit selector writes select; data writes (ignored by the spec) and other widths drop.
    void write(uint16_t port, uint8_t size, uint32_t value);
    [[nodiscard]] PortEvent take_event() { return {}; }

    [[nodiscard]] uint16_t selected() const { return key_; }
    [[nodiscard]] uint32_t offset() const { return offset_; }
    // The size of the item under `key`, 0 when there is none (the file directory's own size too).
    [[nodiscard]] uint32_t item_size(uint16_t key) const;

  private:
    struct File {
        char name[name_size];
        const uint8_t* data;
        uint32_t size;
    };
    // Byte `off` of the item under `key`; false past its end or for an unknown key.
    bool item_byte(uint16_t key, uint32_t off, uint8_t& out) const;
    bool dir_byte(uint32_t off, uint8_t& out) const;

    uint8_t scalars_[4 + 4 + 8 + 2 + 2]{}; // signature, id, ram size, cpus, max cpus
    uint8_t uuid_[16]{};
    File files_[max_files]{};
    size_t file_count_ = 0;
    uint16_t key_ = key_signature;
    uint32_t offset_ = 0;
};

static_assert(PortDevice<FwCfg>);

} // namespace devices
