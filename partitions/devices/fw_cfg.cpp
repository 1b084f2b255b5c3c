#include "partitions/devices/fw_cfg.hpp"

namespace devices {
namespace {

// Offsets of the scalar items inside FwCfg::scalars_.
constexpr uint32_t sig_at = 0, id_at = 4, ram_at = 8, cpus_at = 16, max_cpus_at = 18;

void put_le(uint8_t* p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint8_t be_byte(uint32_t v, uint32_t i, uint32_t width) {
    return static_cast<uint8_t>(v >> (8 * (width - 1 - i)));
}

} // namespace

const char* describe(FwCfgError e) {
    switch (e) {
    case FwCfgError::ok:
        return "ok";
    case FwCfgError::name_empty:
        return "fw_cfg: empty file name";
    case FwCfgError::name_too_long:
        return "fw_cfg: file name longer than 55 characters";
    case FwCfgError::duplicate_name:
        return "fw_cfg: a file of that name exists";
    case FwCfgError::full:
        return "fw_cfg: file table full";
    case FwCfgError::no_data:
        return "fw_cfg: file has a size but no bytes";
    }
    return "fw_cfg: unknown error";
}

FwCfg::FwCfg(uint64_t ram_size, uint16_t cpus, uint16_t max_cpus) {
    __builtin_memcpy(scalars_ + sig_at, "QEMU", 4);
    put_le(scalars_ + id_at, id_traditional, 4);
    put_le(scalars_ + ram_at, ram_size, 8);
    put_le(scalars_ + cpus_at, cpus, 2);
    put_le(scalars_ + max_cpus_at, max_cpus < cpus ? cpus : max_cpus, 2);
}

FwCfgError FwCfg::add_file(const char* name, const uint8_t* data, uint32_t size, uint16_t& key) {
    if (name == nullptr || name[0] == '\0')
        return FwCfgError::name_empty;
    size_t len = 0;
    while (len < name_size && name[len] != '\0')
        len++;
    if (len == name_size)
        return FwCfgError::name_too_long;
    if (data == nullptr && size != 0)
        return FwCfgError::no_data;
    for (size_t i = 0; i < file_count_; i++)
        if (__builtin_memcmp(files_[i].name, name, len + 1) == 0)
            return FwCfgError::duplicate_name;
    if (file_count_ == max_files)
        return FwCfgError::full;
    File& f = files_[file_count_];
    f = File{};
    __builtin_memcpy(f.name, name, len);
    f.data = data;
    f.size = size;
    key = static_cast<uint16_t>(key_file_first + file_count_++);
    return FwCfgError::ok;
}

uint32_t FwCfg::item_size(uint16_t key) const {
    key = static_cast<uint16_t>(key & ~key_write_channel);
    switch (key) {
    case key_signature:
    case key_id:
        return 4;
    case key_uuid:
        return 16;
    case key_ram_size:
        return 8;
    case key_nb_cpus:
    case key_max_cpus:
        return 2;
    case key_file_dir:
        return static_cast<uint32_t>(4 + dir_entry_size * file_count_);
    default:
        break;
    }
    if (key >= key_file_first && size_t{key} - key_file_first < file_count_)
        return files_[key - key_file_first].size;
    return 0;
}

// "File Directory": be32 count, then per file {be32 size, be16 select, u16 reserved, name[56]}.
bool FwCfg::dir_byte(uint32_t off, uint8_t& out) const {
    if (off < 4) {
        out = be_byte(static_cast<uint32_t>(file_count_), off, 4);
        return true;
    }
    uint32_t index = (off - 4) / dir_entry_size, at = (off - 4) % dir_entry_size;
    if (index >= file_count_)
        return false;
    const File& f = files_[index];
    if (at < 4)
        out = be_byte(f.size, at, 4);
    else if (at < 6)
        out = be_byte(key_file_first + index, at - 4, 2);
    else if (at < 8)
        out = 0;
    else
        out = static_cast<uint8_t>(f.name[at - 8]);
    return true;
}

bool FwCfg::item_byte(uint16_t key, uint32_t off, uint8_t& out) const {
    key = static_cast<uint16_t>(key & ~key_write_channel);
    if (off >= item_size(key))
        return false;
    switch (key) {
    case key_signature:
        out = scalars_[sig_at + off];
        return true;
    case key_id:
        out = scalars_[id_at + off];
        return true;
    case key_uuid:
        out = uuid_[off];
        return true;
    case key_ram_size:
        out = scalars_[ram_at + off];
        return true;
    case key_nb_cpus:
        out = scalars_[cpus_at + off];
        return true;
    case key_max_cpus:
        out = scalars_[max_cpus_at + off];
        return true;
    case key_file_dir:
        return dir_byte(off, out);
    default:
        out = files_[key - key_file_first].data[off];
        return true; // item_size checked the key
    }
}

uint32_t FwCfg::read(uint16_t port, uint8_t size) {
    if (port != data_port || size != 1)
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    uint8_t b = 0;
    if (!item_byte(key_, offset_, b))
        return 0;
    offset_++; // stops at the item's end, so it cannot wrap
    return b;
}

void FwCfg::write(uint16_t port, uint8_t size, uint32_t value) {
    if (port == selector_port && size == 2) {
        key_ = static_cast<uint16_t>(value);
        offset_ = 0;
    }
}

} // namespace devices
