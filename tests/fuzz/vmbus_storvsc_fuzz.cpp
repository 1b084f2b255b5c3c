// libFuzzer target over the root's storvsc target (vmbus/storvsc.hpp): one StorageTarget per input,
// fed a hostile child's packet stream: raw packets of any type and size, and well-formed vstor
// operations and SRBs with fuzzer-chosen CDBs, LUNs, directions, lengths and page lists (offsets,
// counts and PFNs from small domains so that most reach the data path), optionally after a proper
// init sequence. Each guest page and the disk image are exact allocations, so ASan stops any access
// outside them; beyond that it checks: only owned pages are mapped, and each mapping is undone;
// the backend is only asked for bytes on the disk; a refused request maps and writes nothing; the
// answer is a completion with the request's id whose lengths fit the request; a successful READ
// delivered the disk's bytes and a successful WRITE moved exactly the bytes it reports.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/vmbus_fuzz_input.hpp"
#include "vmbus/storvsc.hpp"

using namespace vmbus;
using namespace vmbus::storvsc;

namespace {

using vmbus_fuzz::Input;

constexpr uint64_t base_pfn = 0x40;
constexpr uint32_t guest_pages = 8;
constexpr uint64_t unmappable_pfn = base_pfn + 6;   // owned, but the platform fails to map it

struct World {
    uint8_t* pages[guest_pages] = {};
    uint8_t* disk = nullptr;        // disk_bytes, exact; null for the huge sparse disk
    uint64_t disk_bytes = 0;        // what the backend says it holds
    uint32_t maps = 0, unmaps = 0;
    uint64_t read_bytes = 0, written_bytes = 0;
    bool fail_io = false, fail_flush = false;
};
World world;

// STORVSC_FUZZ_STATS=1: how often each Refusal was reached, printed at exit (replay a corpus
// with -runs=0 to see what it covers).
uint64_t refusals_seen[32];
void print_stats() {
    for (uint32_t i = 0; i <= static_cast<uint32_t>(Refusal::medium_error); i++)
        fprintf(stderr, "refusal %-30s %llu\n", to_string(static_cast<Refusal>(i)),
                static_cast<unsigned long long>(refusals_seen[i]));
}

bool owns(void*, uint64_t pfn) { return pfn >= base_pfn && pfn < base_pfn + guest_pages && pfn % 5 != 3; }

uint8_t* map_page(void*, uint64_t pfn) {
    CHECK(owns(nullptr, pfn));
    if (pfn == unmappable_pfn)
        return nullptr;
    world.maps++;
    return world.pages[pfn - base_pfn];
}

void unmap_page(void*, uint64_t pfn, uint8_t* page) {
    CHECK(owns(nullptr, pfn) && page == world.pages[pfn - base_pfn]);
    world.unmaps++;
}

void check_range(uint64_t offset, uint32_t n) {
    CHECK(n != 0 && n <= storvsc_limits::max_transfer_bytes);
    CHECK(offset <= world.disk_bytes && n <= world.disk_bytes - offset);
}

bool disk_read(void*, uint64_t offset, uint8_t* dst, uint32_t n) {
    check_range(offset, n);
    if (world.fail_io)
        return false;
    if (world.disk != nullptr)
        memcpy(dst, world.disk + offset, n);
    else
        memset(dst, static_cast<int>(offset & 0xff), n);
    world.read_bytes += n;
    return true;
}

bool disk_write(void*, uint64_t offset, const uint8_t* src, uint32_t n) {
    check_range(offset, n);
    if (world.fail_io)
        return false;
    if (world.disk != nullptr)
        memcpy(world.disk + offset, src, n);
    world.written_bytes += n;
    return true;
}

bool disk_flush(void*) { return !world.fail_flush; }

// A backend chosen by the input: a small exact image of 512- or 4096-byte sectors, a huge sparse
// disk whose offsets reach toward 2^64, or an unusable one.
BlockBackend make_backend(Input& in) {
    free(world.disk);
    world.disk = nullptr;
    BlockBackend b;
    b.read = disk_read;
    b.write = in.u8() % 8 == 0 ? nullptr : disk_write;
    b.flush = in.u8() % 2 ? disk_flush : nullptr;
    b.read_only = in.u8() % 8 == 0;
    const uint8_t kind = in.u8() % 8;
    b.sector_size = kind == 7 ? 4096 : 512;
    if (kind == 6) {
        b.sectors = in.u8() % 2 ? (~uint64_t{0} / 512) : (uint64_t{1} << 40) + in.u8();
    } else if (kind == 5) {
        b.sector_size = in.u8() % 2 ? 1000 : 512;   // unusable: bad size, or no sectors
        b.sectors = b.sector_size == 512 ? 0 : 4;
    } else {
        b.sectors = 1 + in.u8() % 16;
        world.disk = static_cast<uint8_t*>(malloc(b.sectors * b.sector_size));
        for (uint64_t i = 0; i < b.sectors * b.sector_size; i++)
            world.disk[i] = static_cast<uint8_t>(i * 31 + 7);
    }
    world.disk_bytes = b.sectors * b.sector_size;
    return b;
}

constexpr uint8_t opcodes[] = {0x00, 0x12, 0x1a, 0x25, 0x28, 0x2a, 0x35, 0x5a, 0x88, 0x8a, 0x91, 0x9e, 0xa0,
                               0x03, 0x1b, 0x41, 0x42, 0xa3, 0x8f, 0x93};

// An LBA near something interesting: 0, the end, or anything.
uint64_t pick_lba(Input& in, uint64_t sectors) {
    switch (in.u8() % 4) {
    case 0: return in.u8() % 4;
    case 1: return sectors - in.u8() % 4;
    case 2: return sectors + in.u8();
    default: return in.take(8);
    }
}

struct Built {
    uint8_t* bytes = nullptr;   // exact allocation: descriptor, range header, PFNs, vstor packet
    Packet p{};
    uint32_t pages = 0;
    uint64_t pfns[24] = {};
    uint32_t offset = 0, len = 0;
    bool gpa = false;
};

// One well-formed-looking SRB or operation, or raw bytes.
Built build(Input& in, uint64_t sectors) {
    Built b;
    VstorPacket v{};
    uint32_t vsize = sizeof v;
    const uint8_t mode = in.u8();
    if (mode < 24) {
        v.operation = mode < 8 ? 7 + mode % 7 : in.u32();
        v.version.major_minor = mode % 2 ? proto::win10 : in.u16();
        vsize = in.u8() % 4 == 0 ? in.u8() % 80 : sizeof v;
    } else {
        v.operation = static_cast<uint32_t>(Operation::execute_srb);
        uint8_t* cdb = v.srb.cdb;
        cdb[0] = in.u8() < 230 ? opcodes[in.u8() % sizeof opcodes] : in.u8();
        v.srb.cdb_length = in.u8() < 220 ? (cdb[0] >= 0x80 ? 16 : cdb[0] >= 0x20 ? 10 : 6) : in.u8() % 20;
        const uint64_t lba = pick_lba(in, sectors);
        const uint32_t blocks = in.u8() < 200 ? in.u8() % 24 : in.u32();
        switch (cdb[0]) {
        case 0x28: case 0x2a: case 0x35:
            cdb[2] = uint8_t(lba >> 24), cdb[3] = uint8_t(lba >> 16), cdb[4] = uint8_t(lba >> 8), cdb[5] = uint8_t(lba);
            cdb[7] = uint8_t(blocks >> 8), cdb[8] = uint8_t(blocks);
            break;
        case 0x88: case 0x8a: case 0x91:
            for (int i = 0; i < 8; i++)
                cdb[2 + i] = uint8_t(lba >> (56 - 8 * i));
            for (int i = 0; i < 4; i++)
                cdb[10 + i] = uint8_t(blocks >> (24 - 8 * i));
            break;
        default:
            for (int i = 1; i < 16; i++)
                cdb[i] = in.u8() < 128 ? 0 : in.u8();
            if (cdb[0] == 0x9e && in.u8() % 2)
                cdb[1] = 0x10;
            break;
        }
        if (in.u8() % 4 == 0)
            cdb[1] |= in.u8();
        const uint8_t where = in.u8();
        v.srb.lun = where < 220 ? 0 : where % 4;
        v.srb.target_id = where < 240 ? 0 : 1;
        v.srb.path_id = where < 250 ? 0 : where % 3;
        v.srb.data_in = in.u8() % 4;
        v.srb.sense_info_length = in.u8() < 200 ? 20 : in.u8();
        b.gpa = in.u8() % 4 != 0;
        if (b.gpa) {
            b.offset = in.u8() < 200 ? (in.u8() % 8) * 512 : in.u16() % 4200;
            b.len = in.u8() < 200 ? blocks * 512 : in.u32() % (storvsc_limits::max_transfer_bytes + 2);
            const uint64_t need = (uint64_t{b.offset} + b.len + page_size - 1) / page_size;
            b.pages = in.u8() < 220 ? static_cast<uint32_t>(need < 24 ? need : 24) : in.u8() % 25;
            const uint64_t first = base_pfn + in.u8() % 4;
            for (uint32_t i = 0; i < b.pages; i++)
                b.pfns[i] = in.u8() < 240 ? first + i : base_pfn + in.u8() % (guest_pages + 2);
        }
        v.srb.data_transfer_length = in.u8() < 230 ? b.len : in.u32();
    }
    const uint32_t header = b.gpa ? 32 + 8 * b.pages : 16;
    b.bytes = static_cast<uint8_t*>(malloc(header + vsize));
    memset(b.bytes, 0, header);
    if (b.gpa) {
        const GpaRangeHeader h{0, in.u8() < 240 ? 1u : in.u8(), b.len, b.offset};
        memcpy(b.bytes + 16, &h, sizeof h);
        memcpy(b.bytes + 32, b.pfns, 8 * b.pages);
    }
    if (vsize <= sizeof v) {
        memcpy(b.bytes + header, &v, vsize);
    } else {
        memcpy(b.bytes + header, &v, sizeof v);
        memset(b.bytes + header + sizeof v, 0xa5, vsize - sizeof v);
    }
    // Mostly the type the layout has; sometimes the other one (a page list read as a vstor packet,
    // or a vstor packet read as a page list), or any.
    const uint8_t pick = in.u8();
    const bool as_gpa = pick < 235 ? b.gpa : !b.gpa;
    const uint16_t type = pick < 250 ? (as_gpa ? packet_type::data_using_gpa_direct : packet_type::data_inband) : in.u16();
    b.p = Packet{type, static_cast<uint16_t>(in.u8() < 240 ? flag_completion_requested : in.u16()), in.take(8),
                 header + vsize, header, b.bytes + header, vsize};
    return b;
}

// Whether the guest buffer of a successful READ holds the disk's bytes from `disk_offset`.
bool read_matches(const Built& b, uint32_t n, uint64_t disk_offset) {
    for (uint32_t i = 0; i < b.pages; i++)
        for (uint32_t j = 0; j < i; j++)
            if (b.pfns[i] == b.pfns[j])
                return true;   // a page listed twice holds the later chunk: nothing to compare
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t at = b.offset + i;
        if (world.pages[b.pfns[at / page_size] - base_pfn][at % page_size] != world.disk[disk_offset + i])
            return false;
    }
    return true;
}

void run_init(StorageTarget& t) {
    for (uint32_t o = 7; o <= 10; o++) {
        VstorPacket v{};
        v.operation = o == 8 ? 9 : o == 9 ? 10 : o == 10 ? 8 : 7;
        v.version.major_minor = proto::win8;
        uint8_t bytes[16 + sizeof v] = {};
        memcpy(bytes + 16, &v, sizeof v);
        Reply r;
        t.handle(Packet{packet_type::data_inband, 1, o, sizeof bytes, 16, bytes + 16, sizeof v}, r);
        CHECK(r.packet.status == status_success);
    }
    CHECK(t.state() == StorageTarget::State::ready);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Input in{data, size};
    if (world.pages[0] == nullptr) {
        for (auto& p : world.pages)
            p = static_cast<uint8_t*>(malloc(page_size));
        if (getenv("STORVSC_FUZZ_STATS") != nullptr)
            atexit(print_stats);
    }
    for (auto* p : world.pages)
        memset(p, 0x3c, page_size);
    world.maps = world.unmaps = 0;
    const BlockBackend backend = make_backend(in);
    const GuestMemory memory{Platform{nullptr, owns}, nullptr, map_page, in.u8() % 8 ? unmap_page : nullptr};
    StorageTarget target(backend, memory, TargetConfig{in.u8() % 2 ? "fuzz-serial-0123456789" : "\x01"});
    if (in.u8() % 4 != 0)
        run_init(target);

    for (int n = 0; n < 48 && in.n != 0; n++) {
        world.fail_io = in.u8() % 16 == 0;
        world.fail_flush = in.u8() % 8 == 0;
        Built b = build(in, backend.sectors);
        const uint32_t maps = world.maps;
        const uint64_t read = world.read_bytes, written = world.written_bytes;
        const auto state = target.state();
        const uint64_t logged = target.log().total();
        Reply r;
        target.handle(b.p, r);

        CHECK(r.trans_id == b.p.trans_id);
        CHECK(r.send == ((b.p.flags & flag_completion_requested) != 0));
        CHECK(r.packet.operation == static_cast<uint32_t>(Operation::complete_io));
        CHECK(world.maps == world.unmaps || memory.unmap_page == nullptr);
        CHECK(target.log().size() <= storvsc_limits::log_entries);
        const bool srb = b.p.type == packet_type::data_inband || b.p.type == packet_type::data_using_gpa_direct;
        VstorPacket v{};
        memcpy(&v, b.p.data, b.p.data_size < sizeof v ? b.p.data_size : sizeof v);
        const bool executed = srb && v.operation == 3 && state == StorageTarget::State::ready &&
                              b.p.data_size >= sizeof v;
        // Exactly the failures are logged, each once, with a known reason.
        const bool failed = r.packet.status != status_success || (executed && r.packet.srb.srb_status != srb_status::success);
        CHECK(target.log().total() == logged + (failed ? 1 : 0));
        if (failed) {
            const auto why = static_cast<uint32_t>(target.log().last()->refusal);
            CHECK(why <= static_cast<uint32_t>(Refusal::medium_error));
            refusals_seen[why]++;
        }
        if (!executed) {
            CHECK(world.maps == maps && world.written_bytes == written && world.read_bytes == read);
        } else {
            const ScsiRequest& a = r.packet.srb;
            CHECK(a.data_transfer_length <= (b.gpa ? b.len : 0));
            CHECK(a.sense_info_length <= 18);
            const bool refused = a.srb_status == srb_status::invalid_request || a.srb_status == srb_status::invalid_lun ||
                                 (a.scsi_status == 2 && a.sense_data[2] == 5);
            if (refused || (a.scsi_status == 2 && a.sense_data[2] == 7))
                CHECK(world.maps == maps && world.written_bytes == written && world.read_bytes == read);
            if (a.srb_status != srb_status::success)
                CHECK(a.data_transfer_length == 0);
            const uint8_t op = v.srb.cdb[0];
            const bool rw = op == 0x28 || op == 0x88 || op == 0x2a || op == 0x8a;
            if (a.srb_status == srb_status::success && rw) {
                const bool write = op == 0x2a || op == 0x8a;
                CHECK((write ? world.written_bytes - written : world.read_bytes - read) == a.data_transfer_length);
                if (!write && world.disk != nullptr && a.data_transfer_length != 0) {
                    const uint64_t lba = op == 0x28 ? (uint64_t{v.srb.cdb[2]} << 24 | v.srb.cdb[3] << 16 | v.srb.cdb[4] << 8 | v.srb.cdb[5])
                                                    : [&] {
                                                          uint64_t x = 0;
                                                          for (int i = 0; i < 8; i++)
                                                              x = x << 8 | v.srb.cdb[2 + i];
                                                          return x;
                                                      }();
                    CHECK(read_matches(b, a.data_transfer_length, lba * backend.sector_size));
                }
            }
        }
        free(b.bytes);
    }
    return 0;
}
