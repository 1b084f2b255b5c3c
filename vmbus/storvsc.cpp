// storvsc.hpp's target. The order of work for a request: parse the packet into a private copy,
// check the operation against the state, then for an SRB check the CDB, the page list (every page
// the child's) and the lengths; only a request that passed every check moves data, one guest page
// at a time. SCSI references: SPC-4 (INQUIRY 6.6, MODE SENSE 6.13/6.14, REPORT LUNS 6.33, TEST
// UNIT READY 6.47, sense data 4.5.3), SBC-3 (READ/WRITE 5.11-5.14/5.32-5.35, READ CAPACITY
// 5.15/5.16, SYNCHRONIZE CACHE 5.22/5.23, caching mode page 6.4.5).
#include "vmbus/storvsc.hpp"

namespace vmbus::storvsc {

namespace {

namespace asc {
inline constexpr uint8_t write_error = 0x0c;
inline constexpr uint8_t unrecovered_read_error = 0x11;
inline constexpr uint8_t invalid_opcode = 0x20;
inline constexpr uint8_t lba_out_of_range = 0x21;
inline constexpr uint8_t invalid_field_in_cdb = 0x24;
inline constexpr uint8_t write_protected = 0x27;
inline constexpr uint8_t saving_not_supported = 0x39;
} // namespace asc

// Fixed-format sense data (SPC-4 4.5.3): response code 70h, key, ASC/ASCQ at 12/13.
inline constexpr uint32_t fixed_sense_size = 18;

inline constexpr char vendor_id[9] = "HV      ";
inline constexpr char product_id[17] = "Virtual Disk    ";
inline constexpr char revision[5] = "1.0 ";

[[nodiscard]] uint64_t load64(const uint8_t* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
[[nodiscard]] uint32_t min32(uint64_t a, uint64_t b) { return static_cast<uint32_t>(a < b ? a : b); }

// The CDB length of an operation code's group (SPC-4 4.2.5.1): 0 for groups without a fixed size.
[[nodiscard]] uint32_t group_cdb_length(uint8_t opcode) {
    switch (opcode >> 5) {
    case 0: return 6;
    case 1:
    case 2: return 10;
    case 4: return 16;
    case 5: return 12;
    default: return 0;
    }
}

[[nodiscard]] bool version_supported(uint16_t v) {
    return v == proto::win10 || v == proto::win8_1 || v == proto::win8;
}

bool memory_read(void* ctx, uint64_t offset, uint8_t* dst, uint32_t n) {
    __builtin_memcpy(dst, static_cast<MemoryDisk*>(ctx)->bytes + offset, n);
    return true;
}

bool memory_write(void* ctx, uint64_t offset, const uint8_t* src, uint32_t n) {
    __builtin_memcpy(static_cast<MemoryDisk*>(ctx)->bytes + offset, src, n);
    return true;
}

} // namespace

const char* to_string(Refusal r) {
    switch (r) {
    case Refusal::packet_type: return "packet type";
    case Refusal::truncated: return "truncated";
    case Refusal::bad_descriptor: return "bad descriptor";
    case Refusal::unknown_operation: return "unknown operation";
    case Refusal::host_operation: return "operation only the root sends";
    case Refusal::out_of_order: return "out of order";
    case Refusal::version_refused: return "version refused";
    case Refusal::not_supported: return "not supported";
    case Refusal::bad_cdb_length: return "bad CDB length";
    case Refusal::wrong_direction: return "wrong data direction";
    case Refusal::length_mismatch: return "length mismatch";
    case Refusal::too_long: return "transfer too long";
    case Refusal::range_count: return "range count";
    case Refusal::range_offset: return "range offset";
    case Refusal::range_pages: return "range pages";
    case Refusal::pfn_not_owned: return "page not the child's";
    case Refusal::map_failed: return "page not mapped";
    case Refusal::no_such_lun: return "no such LUN";
    case Refusal::invalid_opcode: return "invalid opcode";
    case Refusal::invalid_field: return "invalid field in CDB";
    case Refusal::lba_out_of_range: return "LBA out of range";
    case Refusal::write_protected: return "write protected";
    case Refusal::medium_error: return "medium error";
    }
    return "?";
}

BlockBackend memory_backend(MemoryDisk* disk, uint32_t sector_size, bool read_only) {
    BlockBackend b;
    b.context = disk;
    b.sector_size = sector_size;
    b.sectors = sector_size == 0 ? 0 : disk->size / sector_size;
    b.read_only = read_only;
    b.read = memory_read;
    b.write = memory_write;
    return b;
}

// The child's data buffer, checked: `pages` PFNs (8 bytes each, unaligned, in the private packet
// copy) covering [offset, offset + length) from the first page's start.
struct StorageTarget::Transfer {
    const uint8_t* pfns = nullptr;
    uint32_t pages = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
};

// One SCSI request: the answer being built and what was checked of the request.
struct StorageTarget::Srb {
    VstorPacket& answer;
    uint8_t cdb[max_cdb_length];
    uint8_t sense_room;
    uint8_t data_in;
    Transfer t;
};

StorageTarget::StorageTarget(BlockBackend disk, GuestMemory memory, TargetConfig config)
    : disk_(disk), memory_(memory) {
    // A disk the target can describe: READ CAPACITY(16) reports sectors - 1 and byte offsets
    // (sectors * sector_size) must not overflow.
    usable_ = (disk_.sector_size == 512 || disk_.sector_size == 4096) && disk_.sectors != 0 &&
              disk_.sectors <= ~uint64_t{0} / disk_.sector_size && disk_.read != nullptr;
    if (disk_.write == nullptr)
        disk_.read_only = true;
    // Printable ASCII only: the serial goes to the child verbatim in VPD pages.
    const char* s = config.serial != nullptr ? config.serial : "";
    while (serial_len_ < storvsc_limits::serial_length && s[serial_len_] > 0x20 && s[serial_len_] < 0x7f) {
        serial_[serial_len_] = s[serial_len_];
        serial_len_++;
    }
    if (serial_len_ == 0)
        serial_[serial_len_++] = '0';
}

void StorageTarget::reset() {
    state_ = State::fresh;
    version_ = 0;
}

void StorageTarget::refuse(Refusal r, const VstorPacket& v, uint32_t value, uint8_t opcode) {
    log_.add(RefusalEntry{r, static_cast<uint8_t>(v.operation), opcode, value});
}

void StorageTarget::handle(const Packet& p, Reply& reply) {
    reply = Reply{};
    reply.send = (p.flags & flag_completion_requested) != 0;
    reply.trans_id = p.trans_id;
    VstorPacket& answer = reply.packet;
    // A packet refused before its operation is read: logged with operation 0, answered failure.
    const auto refused = [&](Refusal r, uint32_t value) {
        refuse(r, answer, value);
        answer.operation = static_cast<uint32_t>(Operation::complete_io);
        answer.status = status_failure;
    };
    // RingReader hands out consistent packets; a caller building one by hand may not.
    if (p.data_offset < sizeof(PacketDescriptor) || p.length < p.data_offset ||
        p.length - p.data_offset != p.data_size || (p.data == nullptr && p.data_size != 0))
        return refused(Refusal::bad_descriptor, p.length);
    if (p.type != packet_type::data_inband && p.type != packet_type::data_using_gpa_direct)
        return refused(Refusal::packet_type, p.type);
    // Until a Windows 8+ version is agreed, a child may send the pre-Windows 8 size (the size
    // delta, storvsc.hpp); we only agree to versions with the full size.
    const uint32_t min_size = state_ < State::versioned ? sizeof(VstorPacket) - win8_extension_size : sizeof(VstorPacket);
    if (p.data_size < min_size)
        return refused(Refusal::truncated, p.data_size);
    VstorPacket request{};
    __builtin_memcpy(&request, p.data, min32(p.data_size, sizeof request));
    operation(p, request, answer);
}

void StorageTarget::operation(const Packet& p, const VstorPacket& request, VstorPacket& answer) {
    answer.operation = request.operation;   // for the log entries; the answer's is set below
    const auto done = [&](uint32_t status) {
        answer.operation = static_cast<uint32_t>(Operation::complete_io);
        answer.status = status;
    };
    switch (static_cast<Operation>(request.operation)) {
    case Operation::begin_initialization:
        if (state_ != State::fresh) {
            refuse(Refusal::out_of_order, answer, request.operation);
            return done(status_failure);
        }
        state_ = State::initializing;
        return done(status_success);
    case Operation::query_protocol_version:
        // Linux offers its versions one by one until one succeeds; a refused one leaves the state.
        answer.version = request.version;
        if (state_ != State::initializing && state_ != State::versioned) {
            refuse(Refusal::out_of_order, answer, request.operation);
            return done(status_failure);
        }
        if (!version_supported(request.version.major_minor)) {
            refuse(Refusal::version_refused, answer, request.version.major_minor);
            return done(status_failure);
        }
        version_ = request.version.major_minor;
        state_ = State::versioned;
        return done(status_success);
    case Operation::query_properties:
        if (state_ != State::versioned && state_ != State::described) {
            refuse(Refusal::out_of_order, answer, request.operation);
            return done(status_failure);
        }
        // No sub-channels: max_channel_count 0 and the multi-channel flag clear, so Linux sends
        // no CREATE_SUB_CHANNELS and uses the primary channel alone.
        answer.properties = ChannelProperties{};
        answer.properties.max_transfer_bytes = storvsc_limits::max_transfer_bytes;
        state_ = State::described;
        return done(status_success);
    case Operation::end_initialization:
        if (state_ != State::described) {
            refuse(Refusal::out_of_order, answer, request.operation);
            return done(status_failure);
        }
        state_ = State::ready;
        return done(status_success);
    case Operation::execute_srb:
        answer = request;
        execute_srb(p, answer);
        answer.operation = static_cast<uint32_t>(Operation::complete_io);
        answer.flags = 0;
        return;
    case Operation::reset_lun:
    case Operation::reset_adapter:
    case Operation::reset_bus:
        // Every request completes inside handle(): nothing is outstanding to abort.
        if (state_ != State::ready) {
            refuse(Refusal::out_of_order, answer, request.operation);
            return done(status_failure);
        }
        return done(status_success);
    case Operation::fchba_data:            // a Fibre Channel adapter's; this is SCSI
    case Operation::create_sub_channels:   // never offered (QUERY_PROPERTIES)
        refuse(Refusal::not_supported, answer, request.operation);
        return done(status_failure);
    case Operation::complete_io:
    case Operation::remove_device:
    case Operation::enumerate_bus:
        refuse(Refusal::host_operation, answer, request.operation);
        return done(status_failure);
    }
    refuse(Refusal::unknown_operation, answer, request.operation);
    done(status_failure);
}

// A malformed SRB: srb_status INVALID_REQUEST, no sense, nothing moved, the packet's status a
// failure. Linux fails the command (DID_ERROR) without touching the device's state.
void StorageTarget::invalid(Srb& s, Refusal r, uint32_t value) {
    refuse(r, s.answer, value, s.cdb[0]);
    s.answer.status = status_failure;
    s.answer.srb.srb_status = srb_status::invalid_request;
    s.answer.srb.scsi_status = scsi_good;
    s.answer.srb.sense_info_length = 0;
    s.answer.srb.data_transfer_length = 0;
}

// A page that passed the ownership check could not be mapped when the data moved: the platform's
// failure, not the child's. srb_status ERROR; a write may have reached the disk in part.
void StorageTarget::unmapped(Srb& s) {
    invalid(s, Refusal::map_failed, 0);
    s.answer.srb.srb_status = srb_status::error;
}

void StorageTarget::good(Srb& s, uint32_t moved) {
    s.answer.status = status_success;
    s.answer.srb.srb_status = srb_status::success;
    s.answer.srb.scsi_status = scsi_good;
    s.answer.srb.sense_info_length = 0;
    s.answer.srb.data_transfer_length = moved;
}

// CHECK CONDITION with fixed-format sense in the answer's sense area (it overlays the CDB) and
// AUTOSENSE_VALID, which Linux needs to copy the sense and leave the error to the SCSI layer.
void StorageTarget::check(Srb& s, Refusal r, uint8_t sense_key, uint8_t code, uint8_t qualifier) {
    refuse(r, s.answer, s.cdb[0], s.cdb[0]);
    uint8_t sense[sense_buffer_size] = {};
    sense[0] = 0x70;
    sense[2] = sense_key;
    sense[7] = fixed_sense_size - 8;
    sense[12] = code;
    sense[13] = qualifier;
    const uint32_t n = min32(s.sense_room, fixed_sense_size);
    __builtin_memcpy(s.answer.srb.sense_data, sense, sizeof sense);
    s.answer.status = status_success;
    s.answer.srb.scsi_status = scsi_check_condition;
    s.answer.srb.srb_status = static_cast<uint8_t>(srb_status::error | (n != 0 ? srb_status::autosense_valid : 0));
    s.answer.srb.sense_info_length = static_cast<uint8_t>(n);
    s.answer.srb.data_transfer_length = 0;
}

// The page list of a GPA-direct packet: one range, its offset inside the first page, enough PFNs
// in the packet for it, each the child's. Returns false after refusing.
bool StorageTarget::parse_transfer(const Packet& p, Srb& s) {
    s.t = Transfer{};
    if (p.type != packet_type::data_using_gpa_direct)
        return true;
    const uint8_t* base = p.data - p.data_offset;
    if (p.data_offset < sizeof(PacketDescriptor) + sizeof(GpaRangeHeader)) {
        invalid(s, Refusal::bad_descriptor, p.data_offset);
        return false;
    }
    GpaRangeHeader h;
    __builtin_memcpy(&h, base + sizeof(PacketDescriptor), sizeof h);
    const uint32_t listed = (p.data_offset - sizeof(PacketDescriptor) - sizeof h) / 8;
    if (h.range_count != 1) {
        invalid(s, Refusal::range_count, h.range_count);
        return false;
    }
    if (h.offset >= page_size) {
        invalid(s, Refusal::range_offset, h.offset);
        return false;
    }
    if (h.len > storvsc_limits::max_transfer_bytes) {
        invalid(s, Refusal::too_long, h.len);
        return false;
    }
    const uint32_t needed = (h.offset + h.len + page_size - 1) / page_size;   // both bounded above
    if (h.len != 0 && needed > listed) {
        invalid(s, Refusal::range_pages, needed);
        return false;
    }
    const uint8_t* pfns = base + sizeof(PacketDescriptor) + sizeof h;
    for (uint32_t i = 0; h.len != 0 && i < needed; i++) {
        const uint64_t pfn = load64(pfns + 8 * i);
        if (!memory_.platform.owns(pfn)) {
            invalid(s, Refusal::pfn_not_owned, static_cast<uint32_t>(pfn));
            return false;
        }
    }
    s.t = Transfer{pfns, h.len != 0 ? needed : 0, h.offset, h.len};
    return true;
}

// Moves the first n bytes (n <= t.length) of the child's buffer to or from `local`, or the disk
// at `disk_offset` when local is null, mapping one page at a time.
StorageTarget::Move StorageTarget::move(const Transfer& t, uint32_t n, bool to_guest, const uint8_t* local,
                                        uint64_t disk_offset) {
    uint32_t done = 0;
    for (uint32_t i = 0; done < n && i < t.pages; i++) {
        const uint32_t start = i == 0 ? t.offset : 0;
        const uint32_t chunk = min32(page_size - start, n - done);
        const uint64_t pfn = load64(t.pfns + 8 * i);
        // Checked when parsed; asked again because ownership can change between then and now.
        if (!memory_.platform.owns(pfn) || memory_.map_page == nullptr)
            return Move::unmapped;
        uint8_t* page = memory_.map_page(memory_.context, pfn);
        if (page == nullptr)
            return Move::unmapped;
        bool ok = true;
        if (local != nullptr)
            __builtin_memcpy(page + start, local + done, chunk);
        else if (to_guest)
            ok = disk_.read(disk_.context, disk_offset + done, page + start, chunk);
        else
            ok = disk_.write(disk_.context, disk_offset + done, page + start, chunk);
        if (memory_.unmap_page != nullptr)
            memory_.unmap_page(memory_.context, pfn, page);
        if (!ok)
            return Move::backend_failed;
        done += chunk;
    }
    return done == n ? Move::ok : Move::unmapped;
}

// Data-in of a synthesised answer: the smallest of what the command produced, the CDB's
// allocation length and the child's buffer.
void StorageTarget::data_in(Srb& s, const uint8_t* bytes, uint32_t size, uint32_t allocation) {
    const uint32_t n = min32(min32(size, allocation), s.t.length);
    if (n != 0 && s.data_in != data_direction::read)
        return invalid(s, Refusal::wrong_direction, s.data_in);
    if (move(s.t, n, true, bytes, 0) != Move::ok)
        return unmapped(s);
    good(s, n);
}

void StorageTarget::execute_srb(const Packet& p, VstorPacket& v) {
    requests_++;
    Srb s{v, {}, 0, 0, {}};
    __builtin_memcpy(s.cdb, v.srb.cdb, sizeof s.cdb);
    s.sense_room = v.srb.sense_info_length < sense_buffer_size ? v.srb.sense_info_length : sense_buffer_size;
    s.data_in = v.srb.data_in;
    if (state_ != State::ready)
        return invalid(s, Refusal::out_of_order, v.operation);
    const uint32_t cdb_length = v.srb.cdb_length;
    if (cdb_length == 0 || cdb_length > max_cdb_length)
        return invalid(s, Refusal::bad_cdb_length, cdb_length);
    // Bytes past cdb_length are not part of the command: a short CDB reads as zeros there.
    __builtin_memset(s.cdb + cdb_length, 0, max_cdb_length - cdb_length);
    const uint32_t expected = group_cdb_length(s.cdb[0]);
    if (expected != 0 && cdb_length < expected)
        return invalid(s, Refusal::bad_cdb_length, cdb_length);
    if (s.data_in > data_direction::none)
        return invalid(s, Refusal::wrong_direction, s.data_in);
    if (!parse_transfer(p, s))
        return;
    // Linux sets data_transfer_length to the page list's length; anything else is inconsistent.
    if (v.srb.data_transfer_length != s.t.length)
        return invalid(s, Refusal::length_mismatch, v.srb.data_transfer_length);
    scsi(s, v.srb.path_id, v.srb.target_id, v.srb.lun);
}

void StorageTarget::scsi(Srb& s, uint8_t path, uint8_t target, uint8_t lun) {
    const uint8_t opcode = s.cdb[0];
    const bool our_target = path == 0 && target == 0;
    if (!usable_ || !our_target || lun != 0) {
        // INQUIRY must succeed (Linux turns any INQUIRY error into success with an empty buffer,
        // which reads as a disk): answer "no logical unit here" (SPC-4 6.6.2: qualifier 011b,
        // type 1Fh). REPORT LUNS may go to any LUN of the target. Everything else: no device,
        // which Linux maps to DID_NO_CONNECT.
        if (opcode == scsi_op::inquiry && (s.cdb[1] & 0x01) == 0) {
            uint8_t data[36] = {};
            data[0] = 0x7f;
            data[3] = 0x02;
            data[4] = sizeof data - 5;
            return data_in(s, data, sizeof data, be16_at(s.cdb + 3));
        }
        if (opcode == scsi_op::report_luns && our_target && usable_)
            return report_luns(s);
        refuse(Refusal::no_such_lun, s.answer, uint32_t{path} << 16 | uint32_t{target} << 8 | lun, opcode);
        good(s, 0);
        s.answer.srb.srb_status = srb_status::invalid_lun;
        return;
    }
    switch (opcode) {
    case scsi_op::test_unit_ready: return good(s, 0);
    case scsi_op::inquiry: return inquiry(s);
    case scsi_op::report_luns: return report_luns(s);
    case scsi_op::read_capacity10: return read_capacity(s, false);
    case scsi_op::service_action_in16:
        if ((s.cdb[1] & 0x1f) == 0x10)
            return read_capacity(s, true);
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
    case scsi_op::read10:
    case scsi_op::write10:
        return read_write(s, be32_at(s.cdb + 2), be16_at(s.cdb + 7), opcode == scsi_op::write10);
    case scsi_op::read16:
    case scsi_op::write16:
        return read_write(s, be64_at(s.cdb + 2), be32_at(s.cdb + 10), opcode == scsi_op::write16);
    case scsi_op::mode_sense6: return mode_sense(s, false);
    case scsi_op::mode_sense10: return mode_sense(s, true);
    case scsi_op::synchronize_cache10: return synchronize_cache(s, be32_at(s.cdb + 2), be16_at(s.cdb + 7));
    case scsi_op::synchronize_cache16: return synchronize_cache(s, be64_at(s.cdb + 2), be32_at(s.cdb + 10));
    default: return check(s, Refusal::invalid_opcode, sense_illegal_request, asc::invalid_opcode);
    }
}

void StorageTarget::inquiry(Srb& s) {
    const uint32_t allocation = be16_at(s.cdb + 3);
    // CMDDT (obsolete) set, or a page code without EVPD: invalid field (SPC-4 6.6.1).
    if ((s.cdb[1] & 0x02) != 0 || ((s.cdb[1] & 0x01) == 0 && s.cdb[2] != 0))
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
    uint8_t data[64] = {};
    if ((s.cdb[1] & 0x01) == 0) {
        // Standard data (SPC-4 6.6.2): a direct-access block device, SPC-3, response format 2,
        // command queuing (every request completes in order anyway).
        data[2] = 0x05;
        data[3] = 0x02;
        data[4] = 36 - 5;
        data[7] = 0x02;
        __builtin_memcpy(data + 8, vendor_id, 8);
        __builtin_memcpy(data + 16, product_id, 16);
        __builtin_memcpy(data + 32, revision, 4);
        return data_in(s, data, 36, allocation);
    }
    // Vital product data (SPC-4 7.8): the supported list, the unit serial number, and a T10
    // vendor ID designator (vendor + serial) for device identification.
    data[1] = s.cdb[2];
    uint32_t n = 4;
    switch (s.cdb[2]) {
    case 0x00:
        data[n++] = 0x00;
        data[n++] = 0x80;
        data[n++] = 0x83;
        break;
    case 0x80:
        __builtin_memcpy(data + n, serial_, serial_len_);
        n += serial_len_;
        break;
    case 0x83:
        data[n++] = 0x02;   // code set: ASCII
        data[n++] = 0x01;   // association: the logical unit; designator type: T10 vendor ID
        data[n++] = 0x00;
        data[n++] = static_cast<uint8_t>(8 + serial_len_);
        __builtin_memcpy(data + n, vendor_id, 8);
        __builtin_memcpy(data + n + 8, serial_, serial_len_);
        n += 8 + serial_len_;
        break;
    default:
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
    }
    put_be16(data + 2, static_cast<uint16_t>(n - 4));
    data_in(s, data, n, allocation);
}

void StorageTarget::report_luns(Srb& s) {
    // SPC-4 6.33: an allocation length below 16 is an invalid field; select report 0 and 2 list
    // every LUN (ours is LUN 0), 1 only well-known LUNs (none).
    const uint32_t allocation = be32_at(s.cdb + 6);
    const uint8_t select = s.cdb[2];
    if (allocation < 16 || select > 0x02)
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
    uint8_t data[16] = {};
    const uint32_t luns = select == 0x01 ? 0 : 1;
    put_be32(data, 8 * luns);
    data_in(s, data, 8 + 8 * luns, allocation);
}

void StorageTarget::read_capacity(Srb& s, bool sixteen) {
    const uint64_t last = disk_.sectors - 1;
    uint8_t data[32] = {};
    if (!sixteen) {
        // SBC-3 5.15: the LBA field is obsolete and must be 0 without PMI; a last LBA beyond 32
        // bits reads FFFFFFFFh, which sends the child to READ CAPACITY(16).
        if ((s.cdb[8] & 0x01) == 0 && be32_at(s.cdb + 2) != 0)
            return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
        put_be32(data, last > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(last));
        put_be32(data + 4, disk_.sector_size);
        return data_in(s, data, 8, 8);
    }
    put_be64(data, last);
    put_be32(data + 8, disk_.sector_size);
    data_in(s, data, 32, be32_at(s.cdb + 10));
}

void StorageTarget::read_write(Srb& s, uint64_t lba, uint32_t blocks, bool write) {
    // RDPROTECT/WRPROTECT: no protection information here (SBC-3 5.11: invalid field).
    if ((s.cdb[1] & 0xe0) != 0)
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
    // The LBA must name a block on the disk even for 0 blocks (SBC-3 4.5: LBA OUT OF RANGE).
    if (lba >= disk_.sectors || blocks > disk_.sectors - lba)
        return check(s, Refusal::lba_out_of_range, sense_illegal_request, asc::lba_out_of_range);
    if (write && disk_.read_only)
        return check(s, Refusal::write_protected, sense_data_protect, asc::write_protected);
    const uint64_t bytes = uint64_t{blocks} * disk_.sector_size;
    // The CDB's transfer must fit the child's buffer (which is at most max_transfer_bytes).
    if (bytes > s.t.length)
        return invalid(s, bytes > storvsc_limits::max_transfer_bytes ? Refusal::too_long : Refusal::length_mismatch,
                       static_cast<uint32_t>(bytes));
    const uint32_t n = static_cast<uint32_t>(bytes);
    if (n != 0 && s.data_in != (write ? data_direction::write : data_direction::read))
        return invalid(s, Refusal::wrong_direction, s.data_in);
    const Move m = move(s.t, n, !write, nullptr, lba * disk_.sector_size);
    if (m == Move::unmapped)
        return unmapped(s);
    if (m == Move::backend_failed)
        return check(s, Refusal::medium_error, sense_medium_error,
                     write ? asc::write_error : asc::unrecovered_read_error);
    // FUA: the data must be durable before GOOD (SBC-3 5.32).
    if (write && (s.cdb[1] & 0x08) != 0 && disk_.flush != nullptr && !disk_.flush(disk_.context))
        return check(s, Refusal::medium_error, sense_medium_error, asc::write_error);
    (write ? bytes_written_ : bytes_read_) += n;
    good(s, n);
}

void StorageTarget::mode_sense(Srb& s, bool ten) {
    const uint8_t control = s.cdb[2] >> 6;
    const uint8_t page = s.cdb[2] & 0x3f;
    const uint8_t subpage = s.cdb[3];
    const uint32_t allocation = ten ? be16_at(s.cdb + 7) : s.cdb[4];
    if (control == 3)   // saved values (SPC-4 6.13): none kept
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::saving_not_supported);
    const bool caching = (page == 0x08 && subpage == 0) || (page == 0x3f && (subpage == 0 || subpage == 0xff));
    if (!caching)
        return check(s, Refusal::invalid_field, sense_illegal_request, asc::invalid_field_in_cdb);
    // A header without block descriptors (allowed whatever DBD says), then the caching page
    // (SBC-3 6.4.5). A volatile cache exists only when the backend has something to flush: then
    // WCE, and DPOFUA in the header. Nothing is changeable (control 1 reads all zeros).
    const bool cache = disk_.flush != nullptr;
    const uint32_t header = ten ? 8 : 4;
    uint8_t data[8 + 20] = {};
    uint8_t* pg = data + header;
    pg[0] = 0x08;
    pg[1] = 0x12;
    if (cache && control != 1)
        pg[2] = 0x04;
    const uint8_t device_specific = static_cast<uint8_t>((disk_.read_only ? 0x80 : 0) | (cache ? 0x10 : 0));
    const uint32_t total = header + 20;
    if (ten) {
        put_be16(data, static_cast<uint16_t>(total - 2));
        data[3] = device_specific;
    } else {
        data[0] = static_cast<uint8_t>(total - 1);
        data[2] = device_specific;
    }
    data_in(s, data, total, allocation);
}

void StorageTarget::synchronize_cache(Srb& s, uint64_t lba, uint32_t blocks) {
    // SBC-3 5.22: 0 blocks means through the last LBA; the range must be on the disk.
    if (lba >= disk_.sectors || blocks > disk_.sectors - lba)
        return check(s, Refusal::lba_out_of_range, sense_illegal_request, asc::lba_out_of_range);
    if (disk_.flush != nullptr && !disk_.flush(disk_.context))
        return check(s, Refusal::medium_error, sense_medium_error, asc::write_error);
    good(s, 0);
}

} // namespace vmbus::storvsc
