// The root's side of synthetic SCSI storage (storvsc; HYPERV-FACTS "storvsc"): one StorageTarget
// per open channel turns the child's vstor packets into SCSI commands against one disk (LUN 0 of
// target 0 on path 0) and builds the completion for each. The wire layout is the one Linux's
// storvsc driver speaks (drivers/scsi/storvsc_drv.c), read as facts; the SCSI behaviour follows
// SPC-4 and SBC-3. Every packet is hostile: it is checked field by field, answered with an error
// status or CHECK CONDITION and recorded in a bounded log; the target never touches a byte of the
// disk or of guest memory outside what a checked request names. docs/vmbus.md, "Storage".
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vmbus/bounded_log.hpp"
#include "vmbus/messages.hpp"
#include "vmbus/platform.hpp"
#include "vmbus/ring.hpp"

namespace vmbus::storvsc {

// SCSI facts both ends use (the target here, the guest end in storvsc_client.*).
// Operation codes (SPC-4 / SBC-3 command tables).
namespace scsi_op {
inline constexpr uint8_t test_unit_ready = 0x00;
inline constexpr uint8_t inquiry = 0x12;
inline constexpr uint8_t mode_sense6 = 0x1a;
inline constexpr uint8_t read_capacity10 = 0x25;
inline constexpr uint8_t read10 = 0x28;
inline constexpr uint8_t write10 = 0x2a;
inline constexpr uint8_t synchronize_cache10 = 0x35;
inline constexpr uint8_t mode_sense10 = 0x5a;
inline constexpr uint8_t read16 = 0x88;
inline constexpr uint8_t write16 = 0x8a;
inline constexpr uint8_t synchronize_cache16 = 0x91;
inline constexpr uint8_t service_action_in16 = 0x9e;   // service action 0x10: READ CAPACITY(16)
inline constexpr uint8_t report_luns = 0xa0;
} // namespace scsi_op

// SAM status codes and sense keys (SAM-5 5.3, SPC-4 4.5.6).
inline constexpr uint8_t scsi_good = 0x00;
inline constexpr uint8_t scsi_check_condition = 0x02;
inline constexpr uint8_t sense_medium_error = 0x3;
inline constexpr uint8_t sense_illegal_request = 0x5;
inline constexpr uint8_t sense_data_protect = 0x7;

// CDB and parameter-data fields are big-endian (SPC-4 3.5), at any alignment.
[[nodiscard]] inline uint16_t be16_at(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
[[nodiscard]] inline uint32_t be32_at(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
[[nodiscard]] inline uint64_t be64_at(const uint8_t* p) { return uint64_t{be32_at(p)} << 32 | be32_at(p + 4); }
inline void put_be16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
inline void put_be32(uint8_t* p, uint32_t v) {
    put_be16(p, static_cast<uint16_t>(v >> 16));
    put_be16(p + 2, static_cast<uint16_t>(v));
}
inline void put_be64(uint8_t* p, uint64_t v) {
    put_be32(p, static_cast<uint32_t>(v >> 32));
    put_be32(p + 4, static_cast<uint32_t>(v));
}

// ba6163d9-04a1-4d29-b605-72e2ffb1dc7f as the offer carries it: the first three fields little
// endian (Linux's guid_t byte order), the last two as written.
inline constexpr Guid class_id{{0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f}};

// Protocol versions (major << 8 | minor) Linux offers, newest first: Windows 10, 8.1, 8. Older
// ones (Windows 7's 4.2) are refused: their vmscsi_request lacks the Windows 8 extension.
namespace proto {
inline constexpr uint16_t win10 = 0x0602;
inline constexpr uint16_t win8_1 = 0x0600;
inline constexpr uint16_t win8 = 0x0501;
} // namespace proto

enum class Operation : uint32_t {
    complete_io = 1,       // every answer we send
    remove_device = 2,     // root to child only
    execute_srb = 3,
    reset_lun = 4,
    reset_adapter = 5,
    reset_bus = 6,         // Linux's host reset handler
    begin_initialization = 7,
    end_initialization = 8,
    query_protocol_version = 9,
    query_properties = 10,
    enumerate_bus = 11,    // root to child only
    fchba_data = 12,       // Fibre Channel only
    create_sub_channels = 13,
};

// vmscsi_request in its Windows 8+ size. Before a version is agreed, older Linux (while it still
// spoke Windows 7's 4.2) sends the packet shorter by the extension (vmscsi_size_delta = 16); once
// a Windows 8+ version is agreed the delta is 0. Newer Linux always sends the full size.
struct ScsiRequest {
    uint16_t length;              // 0x00: sizeof(ScsiRequest) as the child fills it (not relied on)
    uint8_t srb_status;           // 0x02: answer: srb_status below
    uint8_t scsi_status;          // 0x03: answer: SAM status (0 GOOD, 2 CHECK CONDITION)
    uint8_t port_number;          // 0x04: the child's SCSI host number: any value
    uint8_t path_id;              // 0x05: SCSI channel
    uint8_t target_id;            // 0x06
    uint8_t lun;                  // 0x07
    uint8_t cdb_length;           // 0x08: 1..16
    uint8_t sense_info_length;    // 0x09: room for sense data; answer: sense bytes written
    uint8_t data_in;              // 0x0a: data_direction below
    uint8_t reserved;             // 0x0b
    uint32_t data_transfer_length;// 0x0c: bytes the page list describes; answer: bytes moved
    union {                       // 0x10: the CDB in the request, the sense data in the answer
        uint8_t cdb[16];
        uint8_t sense_data[20];
    };
    // 0x24: the Windows 8 extension (queue tag, srb flags, timeout): not used by the target.
    uint16_t reserve;
    uint8_t queue_tag;
    uint8_t queue_action;
    uint32_t srb_flags;
    uint32_t time_out_value;
    uint32_t queue_sort_key;
};
static_assert(sizeof(ScsiRequest) == 0x34);
static_assert(offsetof(ScsiRequest, data_transfer_length) == 0x0c);
static_assert(offsetof(ScsiRequest, cdb) == 0x10);
static_assert(offsetof(ScsiRequest, reserve) == 0x24);
static_assert(offsetof(ScsiRequest, queue_sort_key) == 0x30);
inline constexpr uint32_t win8_extension_size = 16;   // the size delta for pre-Windows 8 versions
inline constexpr uint32_t max_cdb_length = 16;
inline constexpr uint32_t sense_buffer_size = 20;

struct ChannelProperties {
    uint32_t reserved;            // 0x00: once protocol version, path and target id: all 0
    uint16_t max_channel_count;   // 0x04: sub-channels the root would create
    uint16_t reserved1;
    uint32_t flags;               // 0x08: bit 0: multi-channel supported
    uint32_t max_transfer_bytes;  // 0x0c: Linux: max_sectors = this / 512
    uint32_t reserved2[2];        // 0x10: a u64 on the wire; two halves keep the union 4-aligned
};
static_assert(sizeof(ChannelProperties) == 24);

struct ProtocolVersion {
    uint16_t major_minor;
    uint16_t revision;   // Windows only; Linux sends 0
};

// vstor_packet: the data of every inband packet, after the page list of a GPA-direct one.
struct VstorPacket {
    uint32_t operation;   // 0x00: Operation
    uint32_t flags;       // 0x04: bit 0: the child wants a completion (it always asks)
    uint32_t status;      // 0x08: answer: 0 or a failure (Linux checks != 0)
    union {               // 0x0c
        ScsiRequest srb;
        ChannelProperties properties;
        ProtocolVersion version;
        uint8_t buffer[0x34];
    };
};
static_assert(sizeof(VstorPacket) == 0x40);
static_assert(offsetof(VstorPacket, srb) == 0x0c);

inline constexpr uint32_t status_success = 0;
// Any failure; STATUS_UNSUCCESSFUL as the VMBus server uses it. Linux only tests for non-zero.
inline constexpr uint32_t status_failure = 0xC0000001;

// SRB status (Windows' srb.h values, as Linux's storvsc tests them). The high two bits are flags.
namespace srb_status {
inline constexpr uint8_t success = 0x01;
inline constexpr uint8_t error = 0x04;             // with autosense_valid: see the sense data
inline constexpr uint8_t invalid_request = 0x06;   // the request itself is malformed
inline constexpr uint8_t invalid_lun = 0x20;       // no such device: Linux answers DID_NO_CONNECT
inline constexpr uint8_t autosense_valid = 0x80;   // Linux copies sense data only with this
} // namespace srb_status

// vmscsi_request.data_in (Linux: WRITE_TYPE, READ_TYPE, UNKNOWN_TYPE).
namespace data_direction {
inline constexpr uint8_t write = 0;   // child to disk
inline constexpr uint8_t read = 1;    // disk to child
inline constexpr uint8_t none = 2;
} // namespace data_direction

// The GPA-direct header between the packet descriptor and the vstor packet (Linux:
// vmbus_packet_mpb_array): one range of `len` bytes from `offset` in its first page, over the
// 4 KiB guest pages that follow (offset8 * 8 = 32 + 8 * pages).
struct GpaRangeHeader {
    uint32_t reserved;
    uint32_t range_count;   // Linux sends 1
    uint32_t len;
    uint32_t offset;        // below page_size
};
static_assert(sizeof(PacketDescriptor) + sizeof(GpaRangeHeader) == 32);

namespace storvsc_limits {
// What QUERY_PROPERTIES announces, and the largest transfer accepted. Linux caps its requests at
// it (max_sectors = 512 sectors here) and splits larger I/O; it bounds the bytes moved per packet.
inline constexpr uint32_t max_transfer_bytes = 256 * 1024;
// A transfer not starting on a page boundary spans one page more.
inline constexpr uint32_t max_pages = max_transfer_bytes / page_size + 1;
// The largest packet a well-behaved child sends: the provider's receive buffer needs this much.
inline constexpr uint32_t max_packet_size = 32 + 8 * max_pages + sizeof(VstorPacket);
inline constexpr uint32_t log_entries = 32;
inline constexpr uint32_t serial_length = 16;
} // namespace storvsc_limits

// The disk behind the target: `sectors` blocks of `sector_size` (512 or 4096) bytes. read and
// write are byte-addressed, so a transfer can follow the guest's page boundaries rather than the
// sectors': the target calls them only for [offset, offset + n) inside the disk, n > 0. An
// in-memory image uses memory_backend(); a file or block device can supply its own functions.
struct BlockBackend {
    void* context = nullptr;
    uint64_t sectors = 0;
    uint32_t sector_size = 512;
    bool read_only = false;
    bool (*read)(void* context, uint64_t offset, uint8_t* dst, uint32_t n) = nullptr;
    bool (*write)(void* context, uint64_t offset, const uint8_t* src, uint32_t n) = nullptr;
    // Makes written data durable. Null: every write is durable when it returns (RAM), and the
    // target reports no volatile write cache.
    bool (*flush)(void* context) = nullptr;
};

// An image in memory (the root's GRUB module): whole sectors of `size` bytes are the disk.
struct MemoryDisk {
    uint8_t* bytes;
    uint64_t size;
};
[[nodiscard]] BlockBackend memory_backend(MemoryDisk* disk, uint32_t sector_size = 512, bool read_only = false);

// The child's memory, one 4 KiB page at a time. platform.owns decides which pages are the child's;
// map_page is called only for those, and may still refuse (null). unmap_page (optional) undoes it.
struct GuestMemory {
    Platform platform;
    void* context = nullptr;
    uint8_t* (*map_page)(void* context, uint64_t pfn) = nullptr;
    void (*unmap_page)(void* context, uint64_t pfn, uint8_t* page) = nullptr;
};

// Why a packet or a request was refused. Each log entry has one.
enum class Refusal : uint8_t {
    packet_type,         // neither inband (6) nor GPA direct (9); value: the type
    truncated,           // shorter than a vstor packet; value: its size
    bad_descriptor,      // the Packet's lengths disagree, or the GPA header is cut short
    unknown_operation,   // value: the operation
    host_operation,      // an operation only the root sends (complete_io, remove, enumerate)
    out_of_order,        // value: the operation
    version_refused,     // value: the version
    not_supported,       // FC data, sub-channels; value: the operation
    bad_cdb_length,      // value: cdb_length
    wrong_direction,     // data_in disagrees with the command
    length_mismatch,     // data_transfer_length vs the page list vs the CDB; value: the length
    too_long,            // more than max_transfer_bytes
    range_count,         // value: range_count (1 expected)
    range_offset,        // the range's offset beyond its first page
    range_pages,         // the range needs more pages than the packet lists, or than max_pages
    pfn_not_owned,       // value: the low 32 bits of the PFN
    map_failed,          // owned but the platform could not map it
    no_such_lun,         // path, target or LUN not 0 (value: path << 16 | target << 8 | lun)
    invalid_opcode,      // value: the opcode
    invalid_field,       // value: the opcode
    lba_out_of_range,    // value: the opcode
    write_protected,
    medium_error,        // the backend failed; value: the opcode
};
[[nodiscard]] const char* to_string(Refusal r);

struct RefusalEntry {
    Refusal refusal;
    uint8_t operation;   // the vstor operation (low byte)
    uint8_t opcode;      // the SCSI opcode, 0 when none
    uint32_t value;
};

using StorageLog = BoundedLog<RefusalEntry, storvsc_limits::log_entries, &RefusalEntry::refusal>;

// What to send back for one packet: when `send`, a completion packet (type 11) with `trans_id`
// and the bytes of `packet`: ch.send(completion_header(r), &r.packet, sizeof r.packet).
struct Reply {
    bool send = false;
    uint64_t trans_id = 0;
    VstorPacket packet{};
};
[[nodiscard]] inline OutPacket completion_header(const Reply& r) {
    return OutPacket{packet_type::completion, 0, r.trans_id, 2};
}

struct TargetConfig {
    // INQUIRY's unit serial number (VPD 0x80) and identifier (0x83); printable ASCII, at most
    // serial_length characters are used.
    const char* serial = "0";
};

class StorageTarget {
public:
    enum class State : uint8_t {
        fresh,         // channel open, nothing received
        initializing,  // BEGIN_INITIALIZATION seen
        versioned,     // a protocol version agreed
        described,     // QUERY_PROPERTIES answered
        ready,         // END_INITIALIZATION: SRBs accepted
    };

    StorageTarget(BlockBackend disk, GuestMemory memory, TargetConfig config = {});

    // One packet as RingReader returned it (its descriptor precedes p.data in the caller's buffer).
    // Does the work and fills `reply`; reply.send is false when the child asked no completion.
    void handle(const Packet& p, Reply& reply);
    // The channel closed or reopened: back to fresh (the disk is kept).
    void reset();

    [[nodiscard]] State state() const { return state_; }
    [[nodiscard]] uint16_t protocol_version() const { return version_; }
    [[nodiscard]] bool disk_usable() const { return usable_; }
    [[nodiscard]] const StorageLog& log() const { return log_; }
    [[nodiscard]] uint64_t requests() const { return requests_; }
    [[nodiscard]] uint64_t bytes_read() const { return bytes_read_; }
    [[nodiscard]] uint64_t bytes_written() const { return bytes_written_; }

private:
    struct Transfer;     // a checked GPA range (storvsc.cpp)
    struct Srb;          // one SCSI request being answered (storvsc.cpp)

    enum class Move : uint8_t { ok, unmapped, backend_failed };

    void operation(const Packet& p, const VstorPacket& request, VstorPacket& answer);
    void execute_srb(const Packet& p, VstorPacket& v);
    [[nodiscard]] bool parse_transfer(const Packet& p, Srb& s);
    void scsi(Srb& s, uint8_t path, uint8_t target, uint8_t lun);
    [[nodiscard]] Move move(const Transfer& t, uint32_t n, bool to_guest, const uint8_t* local, uint64_t disk_offset);
    void refuse(Refusal r, const VstorPacket& v, uint32_t value, uint8_t opcode = 0);

    // The three ways an SRB ends: GOOD with `moved` bytes, CHECK CONDITION with sense, or a
    // malformed request (srb_status INVALID_REQUEST, nothing moved).
    void good(Srb& s, uint32_t moved);
    void check(Srb& s, Refusal r, uint8_t sense_key, uint8_t code, uint8_t qualifier = 0);
    void invalid(Srb& s, Refusal r, uint32_t value);
    void unmapped(Srb& s);
    void data_in(Srb& s, const uint8_t* bytes, uint32_t size, uint32_t allocation);

    // SCSI commands (SPC-4, SBC-3): each answers through Srb.
    void inquiry(Srb& s);
    void report_luns(Srb& s);
    void read_capacity(Srb& s, bool sixteen);
    void read_write(Srb& s, uint64_t lba, uint32_t blocks, bool write);
    void mode_sense(Srb& s, bool ten);
    void synchronize_cache(Srb& s, uint64_t lba, uint32_t blocks);

    BlockBackend disk_;
    GuestMemory memory_;
    char serial_[storvsc_limits::serial_length + 1] = {};
    uint32_t serial_len_ = 0;
    bool usable_ = false;
    State state_ = State::fresh;
    uint16_t version_ = 0;
    StorageLog log_;
    uint64_t requests_ = 0;
    uint64_t bytes_read_ = 0;
    uint64_t bytes_written_ = 0;
};

} // namespace vmbus::storvsc
