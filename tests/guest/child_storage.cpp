// Guest suite `child-storage`, run as a CHILD partition with a disk (`tools/run --suite
// child-storage --suite-smp N` creates an 8 MiB image and adds `disk=` to the child's
// configuration; the root serves it with partitions/root/vmbus_storage.*). The portable guest end
// (vmbus/storvsc_client.hpp) drives the root's storvsc target as Linux's storvsc does.
// Hypothesis: the initialisation agrees on protocol 6.2 and announces the largest transfer; the
// disk describes itself as SPC-4/SBC-3 say (INQUIRY, REPORT LUNS, TEST UNIT READY, READ CAPACITY
// 10/16, MODE SENSE); every sector written with a pattern of its own (WRITE 10 and 16, transfers
// of 1 sector up to the maximum, page lists starting mid-page) reads back exactly (READ 10 and
// 16); requests outstanding at once, from one VP and from every VP, complete matched by their
// transaction ids; requests the target must refuse (past the end, another LUN, an unknown
// opcode, a page outside the child's RAM) are refused as SBC-3/SPC-4 and the protocol say, with
// nothing moved and the channel serving on. Its `bench:` line is the storage figure tools/bench
// records (docs/performance.md).
#include "hypercalls/abi/tlfs.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "tests/guest/suite.hpp"
#include "tests/guest/vectors.hpp"
#include "tests/guest/vmbus_session.hpp"
#include "tests/guest/vp_team.hpp"
#include "vmbus/storvsc_client.hpp"

namespace {

namespace st = vmbus::storvsc;
using st::ScsiCommand;
using st::ScsiResult;

constexpr unsigned planned = 18;
constexpr uint8_t v_vmbus = 0x52;
// tools/run gives the suite `truncate -s 8M`: 16384 sectors of 512 bytes.
constexpr uint64_t expected_sectors = 8ull * 1024 * 1024 / 512;
constexpr uint32_t sector = 512;
// Outbound ring: 16 pages (a full-size GPA-direct request is ~600 bytes: dozens fit); inbound: 8.
constexpr uint32_t send_pages = 16, recv_pages = 8;
constexpr uint32_t max_bytes = st::storvsc_limits::max_transfer_bytes;
// Buffer offset that is sector-aligned but not page-aligned: the page list gets one page more.
constexpr uint32_t odd_offset = 3 * sector;

vmbus::ClientChannel* ch;
uint8_t* ring;   // the outbound ring's control page, the inbound one's send_pages later
suite::Reporter* rep;   // for diagnostics from helpers
uint32_t vp_count = 1;
uint64_t capacity;   // sectors, from READ CAPACITY(16)
uint64_t seed;

// ---- the transport: the channel's rings, any VP; only VP 0 takes SynIC messages ----
vmbus::RingStatus t_send(void*, const vmbus::OutPacket& h, const vmbus::Span* parts, uint32_t count) {
    return ch->send(h, parts, count);
}
vmbus::RingStatus t_receive(void*, uint8_t* buffer, uint32_t capacity_bytes, vmbus::Packet& out) {
    return ch->receive(buffer, capacity_bytes, out);
}
void t_done(void*) { ch->done_receiving(); }
// 5 s per wait: the root answers each request within its next poll (Bochs is slow, not that slow).
uint64_t deadline[vectors::max_vps];
bool t_wait(void*, uint32_t round) {
    const uint32_t vp = vectors::this_vp() < vectors::max_vps ? vectors::this_vp() : 0;
    const uint64_t now = vectors::ref_now();
    if (round == 0)
        deadline[vp] = now + 5000 * 10'000ull;
    if (vp == 0)
        vmbus_session::pump_once();
    else
        asm volatile("pause");
    return now < deadline[vp];
}
st::StorvscClient client({nullptr, t_send, t_receive, t_done, t_wait});

// ---- buffers and the pattern ----
uint8_t* alloc_bytes(uint32_t bytes) {
    return static_cast<uint8_t*>(rt::pages::ptr(rt::pages::alloc_run((bytes + 4095) / 4096)));
}
uint64_t gpa_of(const void* p) { return reinterpret_cast<uint64_t>(p); }   // identity-mapped

// Sector s's 64 words: its number, the run's seed and the word's index, so a sector read from
// the wrong place, a stale sector, or words shifted inside one all differ.
uint64_t word(uint64_t s, uint32_t k) { return (s << 20 | k) ^ seed; }
void fill(uint8_t* buf, uint64_t lba, uint32_t sectors) {
    auto* w = reinterpret_cast<uint64_t*>(buf);   // buffers are 8-aligned (page + n * 512)
    for (uint32_t s = 0; s < sectors; s++)
        for (uint32_t k = 0; k < sector / 8; k++)
            w[s * (sector / 8) + k] = word(lba + s, k);
}
// The first sector that differs from the pattern, or ~0.
uint64_t mismatch(const uint8_t* buf, uint64_t lba, uint32_t sectors) {
    const auto* w = reinterpret_cast<const uint64_t*>(buf);
    for (uint32_t s = 0; s < sectors; s++)
        for (uint32_t k = 0; k < sector / 8; k++)
            if (w[s * (sector / 8) + k] != word(lba + s, k))
                return lba + s;
    return ~0ull;
}

// A request that gets no completion is a failure; for the report, whether its write signalled the
// root (the ring rule: only a write that made the ring non-empty does), and whether one more
// HvSignalEvent on the channel gets it answered: then a wake-up was lost between the two ends.
uint32_t stalls, kicked_answers;
ScsiResult run(ScsiCommand c, const void* buffer, uint32_t length) {
    c.gpa = gpa_of(buffer);
    c.length = length;
    const uint64_t s0 = vmbus_session::signals_sent();
    const uint64_t id = client.submit(c);
    const uint64_t s1 = vmbus_session::signals_sent();
    ScsiResult r;
    client.wait(id, r);
    if (id != 0 && !r.completed && stalls++ < 4) {
        static_cast<void>(rt::hc::fast(tlfs::call::signal_event, ch->connection_id()));
        vmbus_session::pump_for(1000);
        const bool late = client.stray_completions() != 0;
        kicked_answers += late;
        rep->diag("no completion in 5 s for id %lu; its write %s the root; another signal: %s", id,
                  s1 != s0 ? "signalled" : "did not signal", late ? "answered (a lost wake-up)" : "no answer");
    }
    return r;
}
// READ/WRITE of `sectors` at lba, the 10-byte CDB or the 16-byte one.
ScsiCommand rw(bool write, bool sixteen, uint64_t lba, uint32_t sectors) {
    if (sixteen)
        return write ? st::cdb::write16(lba, sectors) : st::cdb::read16(lba, sectors);
    return write ? st::cdb::write10(static_cast<uint32_t>(lba), static_cast<uint16_t>(sectors))
                 : st::cdb::read10(static_cast<uint32_t>(lba), static_cast<uint16_t>(sectors));
}

uint8_t* big;   // max_bytes + a page: transfers up to the maximum at odd_offset
uint8_t* small;

void describe(const char* what, const ScsiResult& r) {
    rep->diag("%s: completed %d status 0x%x srb 0x%x scsi 0x%x sense %x/%02x/%02x moved %u",
                                    what, r.completed, r.status, r.srb_status, r.scsi_status, r.sense_key, r.asc,
                                    r.ascq, r.transferred);
    const auto* out = reinterpret_cast<const volatile vmbus::RingControl*>(ring);
    const auto* in = reinterpret_cast<const volatile vmbus::RingControl*>(ring + send_pages * 4096);
    rep->diag("rings: out write %u read %u mask %u pending %u; in write %u read %u mask %u pending %u",
              out->write_index, out->read_index, out->interrupt_mask, out->pending_send_sz, in->write_index,
              in->read_index, in->interrupt_mask, in->pending_send_sz);
}

// ---- the checks ----
void identity_checks(suite::Reporter& r) {
    // INQUIRY standard data (SPC-4 6.6.2): byte 0 qualifier 000b / type 00h (direct access block
    // device), additional length >= 31, T10 vendor 8-15 and product 16-31 in printable ASCII.
    __builtin_memset(small, 0, 4096);
    ScsiResult q = run(st::cdb::inquiry(96), small, 96);
    bool printable = true, nonblank = false;
    for (uint32_t i = 8; i < 32; i++) {
        printable = printable && small[i] >= 0x20 && small[i] < 0x7f;
        nonblank = nonblank || (small[i] != ' ' && small[i] != 0);
    }
    r.check(q.good() && q.transferred >= 36 && small[0] == 0x00 && small[4] >= 31 && printable && nonblank,
            "INQUIRY: a direct-access block device (type 0), vendor and product identification present");
    char vendor[9] = {}, product[17] = {};
    __builtin_memcpy(vendor, small + 8, 8);
    __builtin_memcpy(product, small + 16, 16);
    r.diag("INQUIRY: %u bytes, vendor '%s' product '%s', version 0x%x", q.transferred, vendor, product, small[2]);
    if (!q.good())
        describe("INQUIRY", q);

    // REPORT LUNS (SPC-4 6.33): list length 8 (one LUN), the entry LUN 0 (all zero).
    __builtin_memset(small, 0xff, 64);
    ScsiResult l = run(st::cdb::report_luns(64), small, 64);
    bool lun0 = true;
    for (uint32_t i = 8; i < 16; i++)
        lun0 = lun0 && small[i] == 0;
    r.check(l.good() && l.transferred == 16 && st::be32_at(small) == 8 && lun0, "REPORT LUNS: exactly one LUN, LUN 0");
    if (!l.good() || st::be32_at(small) != 8)
        describe("REPORT LUNS", l);

    ScsiResult t = run(st::cdb::test_unit_ready(), nullptr, 0);
    r.check(t.good() && t.transferred == 0, "TEST UNIT READY: GOOD");
    if (!t.good())
        describe("TEST UNIT READY", t);

    // READ CAPACITY (SBC-3 5.15/5.16): the last LBA and the block length; both forms agree with
    // the 8 MiB image tools/run made.
    __builtin_memset(small, 0, 64);
    ScsiResult c10 = run(st::cdb::read_capacity10(), small, 8);
    const uint64_t last10 = st::be32_at(small);
    const uint32_t block10 = st::be32_at(small + 4);
    __builtin_memset(small, 0, 64);
    ScsiResult c16 = run(st::cdb::read_capacity16(32), small, 32);
    const uint64_t last16 = st::be64_at(small);
    const uint32_t block16 = st::be32_at(small + 8);
    capacity = c16.good() ? last16 + 1 : 0;
    r.check(c10.good() && c16.good() && last10 == last16 && block10 == sector && block16 == sector &&
                capacity == expected_sectors,
            "READ CAPACITY 10 and 16 agree: 16384 sectors of 512 bytes (the 8 MiB image)");
    r.diag("capacity: (10) last LBA %lu block %u, (16) last LBA %lu block %u", last10, block10, last16, block16);

    // MODE SENSE 6 and 10 of the caching page (SBC-3 6.4.5): a header then page 08h, length 12h.
    __builtin_memset(small, 0xff, 256);
    ScsiResult m6 = run(st::cdb::mode_sense6(0x08, 64), small, 64);
    const bool page6 = m6.good() && m6.transferred >= 4 + 20 && small[0] + 1u == m6.transferred &&
                       small[3] == 0 && (small[4] & 0x3f) == 0x08 && small[5] == 0x12;
    __builtin_memset(small, 0xff, 256);
    ScsiResult m10 = run(st::cdb::mode_sense10(0x3f, 128), small, 128);
    const bool page10 = m10.good() && m10.transferred >= 8 + 20 && (small[0] << 8 | small[1]) + 2u == m10.transferred &&
                        (small[8] & 0x3f) == 0x08 && small[9] == 0x12;
    r.check(page6 && page10, "MODE SENSE 6 and 10: the caching mode page, lengths consistent with the header");
    if (!page6 || !page10) {
        describe("MODE SENSE(6)", m6);
        describe("MODE SENSE(10)", m10);
    }
}

// Transfer sizes in sectors the pattern walk cycles through: one sector, odd counts, the maximum.
constexpr uint32_t chunks[] = {512, 1, 7, 64, 255, 512, 100, 33, 512, 8};

void pattern_checks(suite::Reporter& r) {
    const uint32_t max_sectors = client.max_transfer_bytes() / sector;
    // Write: alternating WRITE(10)/(16), the buffer alternately page-aligned and at odd_offset.
    bool written = capacity == expected_sectors && max_sectors != 0;
    uint32_t requests = 0, w16 = 0, odd = 0;
    uint64_t lba = 0;
    for (uint32_t i = 0; written && lba < capacity; i++) {
        uint32_t n = chunks[i % (sizeof chunks / sizeof chunks[0])];
        n = n > max_sectors ? max_sectors : n;
        n = lba + n > capacity ? static_cast<uint32_t>(capacity - lba) : n;
        uint8_t* buf = big + ((i / 2) % 2 ? odd_offset : 0);
        fill(buf, lba, n);
        const bool sixteen = i % 2 == 1;
        ScsiResult w = run(rw(true, sixteen, lba, n), buf, n * sector);
        written = w.good() && w.transferred == n * sector;
        if (!written) {
            r.diag("write of %u sectors at %lu failed", n, lba);
            describe("WRITE", w);
        }
        w16 += sixteen;
        odd += buf != big;
        requests++;
        lba += n;
    }
    r.check(written && lba == capacity, "the whole disk written, a pattern unique to each sector: WRITE 10 and 16, "
                                        "1 to 512 sectors, buffers page-aligned and mid-page");
    r.diag("%u writes (%u WRITE(16), %u from offset %u in a page)", requests, w16, odd, odd_offset);

    // Read back in a different walk (chunk boundaries fall elsewhere), READ(16) first.
    bool same = written;
    uint64_t bad = ~0ull;
    lba = 0;
    requests = 0;
    for (uint32_t i = 3; same && lba < capacity; i++) {
        uint32_t n = chunks[i % (sizeof chunks / sizeof chunks[0])];
        n = n > max_sectors ? max_sectors : n;
        n = lba + n > capacity ? static_cast<uint32_t>(capacity - lba) : n;
        uint8_t* buf = big + (i % 3 == 0 ? odd_offset : 0);
        __builtin_memset(buf, 0xa5, n * sector);
        ScsiResult rd = run(rw(false, i % 2 == 1, lba, n), buf, n * sector);
        bad = rd.good() ? mismatch(buf, lba, n) : lba;
        same = rd.good() && rd.transferred == n * sector && bad == ~0ull;
        if (!same) {
            r.diag("read of %u sectors at %lu: first differing sector %lu", n, lba, bad);
            describe("READ", rd);
        }
        requests++;
        lba += n;
    }
    r.check(same && lba == capacity, "the whole disk read back (READ 10 and 16): every sector holds its pattern");
    r.diag("%u reads", requests);
}

// 8 reads outstanding at once from this VP, each a different region into its own buffer, taken
// in reverse order of submission: each result must be its own request's.
bool in_flight(uint32_t vp, uint32_t count, uint8_t* buffers, uint32_t each, uint32_t* max_outstanding) {
    uint64_t ids[8];
    uint64_t lbas[8];
    const uint32_t sectors = each / sector;
    bool ok = true;
    for (uint32_t i = 0; i < count; i++) {
        // Regions spread over the disk, different per VP and per round.
        lbas[i] = (uint64_t{vp} * 977 + uint64_t{i} * 1531 + seed % 97) % (capacity - sectors);
        __builtin_memset(buffers + i * each, 0x3c, each);
        ScsiCommand c = st::cdb::read16(lbas[i], sectors);
        c.gpa = gpa_of(buffers + i * each);
        c.length = each;
        ids[i] = client.submit(c);
        ok = ok && ids[i] != 0;
    }
    if (max_outstanding)
        *max_outstanding = client.outstanding();
    for (uint32_t i = count; i-- > 0;) {
        ScsiResult res;
        client.wait(ids[i], res);
        ok = ok && res.good() && res.transferred == each && mismatch(buffers + i * each, lbas[i], sectors) == ~0ull;
    }
    return ok;
}

// ---- every VP at once ----
uint8_t* vp_buffers[vectors::max_vps];
constexpr uint32_t vp_rounds = 8, vp_each = 16 * 1024;

bool vp_work(uint32_t vp) {
    bool ok = true;
    for (uint32_t round = 0; round < vp_rounds && ok; round++)
        ok = in_flight(vp + round * 8, 4, vp_buffers[vp], vp_each, nullptr);
    return ok;
}

void concurrency_checks(suite::Reporter& r) {
    uint32_t most = 0;
    const uint64_t stray0 = client.stray_completions();
    bool eight = capacity != 0 && in_flight(0, 8, big, 16 * 1024, &most);
    r.check(eight && most == 8 && client.stray_completions() == stray0,
            "8 reads in flight from one VP: each completion matched to its request by transaction id, data right");
    r.diag("outstanding at once: %u", most);
    if (vp_count < 2) {
        r.skip("requests from every VP at once", "one VP (--suite-smp 2 or more runs it)");
        return;
    }
    uint32_t failed = vp_team::run(vp_work, vp_count, 120'000);
    r.check(failed == 0 && client.stray_completions() == stray0 && client.outstanding() == 0,
            "every VP with 4 reads in flight, 8 rounds each, sharing the channel: all matched, all right");
    r.diag("%u VPs, %u failed or unfinished", vp_count, failed);
}

void refusal_checks(suite::Reporter& r, const root_abi::RootHandoff& h) {
    // Past the end (SBC-3 4.5, 5.11): LBA = capacity, and a range straddling the end, each CHECK
    // CONDITION, ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE (21h); the buffer untouched.
    __builtin_memset(big, 0x77, 8 * sector);
    ScsiResult at_end = run(st::cdb::read10(static_cast<uint32_t>(capacity), 1), big, sector);
    ScsiResult straddle = run(st::cdb::read16(capacity - 4, 8), big, 8 * sector);
    bool untouched = true;
    for (uint32_t i = 0; i < 8 * sector; i++)
        untouched = untouched && big[i] == 0x77;
    r.check(at_end.check_condition(st::sense_illegal_request, 0x21) && at_end.transferred == 0 &&
                straddle.check_condition(st::sense_illegal_request, 0x21) && straddle.transferred == 0 && untouched,
            "reads at the capacity and straddling the end: CHECK CONDITION, ILLEGAL REQUEST, ASC 21h; buffer untouched");
    if (!at_end.check_condition(st::sense_illegal_request, 0x21) ||
        !straddle.check_condition(st::sense_illegal_request, 0x21)) {
        describe("at end", at_end);
        describe("straddling", straddle);
    }
    // A write straddling the end must not write the sectors that do exist (SBC-3: the command is
    // refused whole, before any transfer).
    fill(big, capacity - 4, 8);
    for (uint32_t i = 0; i < 4 * sector; i++)
        big[i] ^= 0xff;   // what the tail would become if the write landed in part
    ScsiResult wend = run(st::cdb::write10(static_cast<uint32_t>(capacity - 4), 8), big, 8 * sector);
    ScsiResult tail = run(st::cdb::read10(static_cast<uint32_t>(capacity - 4), 4), small, 4 * sector);
    r.check(wend.check_condition(st::sense_illegal_request, 0x21) && tail.good() &&
                mismatch(small, capacity - 4, 4) == ~0ull,
            "a write straddling the end: ASC 21h, and the last sectors keep their pattern");

    // Another LUN: the target has only LUN 0 (SRB status INVALID_LUN, which Linux maps to
    // DID_NO_CONNECT).
    ScsiCommand lun1 = st::cdb::test_unit_ready();
    lun1.lun = 1;
    ScsiResult l = run(lun1, nullptr, 0);
    r.check(l.completed && l.srb_status == st::srb_status::invalid_lun, "TEST UNIT READY to LUN 1: INVALID_LUN");
    if (l.srb_status != st::srb_status::invalid_lun)
        describe("LUN 1", l);

    // An opcode the target does not implement: FORMAT UNIT (04h, SBC-3 5.3), a real command a
    // virtual disk has no use for: ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (20h).
    const uint8_t format_unit[6] = {0x04, 0, 0, 0, 0, 0};
    ScsiResult u = run(st::cdb::raw(format_unit, 6), nullptr, 0);
    r.check(u.check_condition(st::sense_illegal_request, 0x20), "FORMAT UNIT: ILLEGAL REQUEST, ASC 20h");
    if (!u.check_condition(st::sense_illegal_request, 0x20))
        describe("FORMAT UNIT", u);

    ScsiResult sync = run(st::cdb::synchronize_cache10(), nullptr, 0);
    r.check(sync.good(), "SYNCHRONIZE CACHE (10) of the whole disk: GOOD");

    // A page list naming a page past the child's RAM: the target refuses the request before moving
    // anything (SRB INVALID_REQUEST, a failure status), the root logs it, and the channel serves on.
    uint64_t top = 0;
    for (uint32_t i = 0; i < h.region_count; i++)
        if (h.regions[i].base + h.regions[i].length > top)
            top = h.regions[i].base + h.regions[i].length;
    const uint64_t pfns[2] = {gpa_of(big) >> 12, (top >> 12) + 0x100};
    ScsiCommand foreign = st::cdb::write10(0, 8);
    foreign.gpa = gpa_of(big) + 2048;   // two pages: the second is the foreign one
    foreign.length = 8 * sector;
    foreign.pfns = pfns;
    __builtin_memset(big, 0, 8192);
    ScsiResult f = client.execute(foreign);
    ScsiResult back = run(st::cdb::read10(0, 8), small, 8 * sector);
    r.check(f.completed && f.srb_status == st::srb_status::invalid_request && f.status != st::status_success &&
                back.good() && mismatch(small, 0, 8) == ~0ull,
            "a page list naming a page outside the child's RAM: refused, the disk unchanged, the channel serves on");
    r.diag("foreign PFN 0x%lx (RAM ends at 0x%lx)", pfns[1], top);
    if (!f.completed || f.srb_status != st::srb_status::invalid_request)
        describe("foreign page", f);
}

// Sequential WRITE then READ of the whole disk in transfers of the maximum size, against memcpy of
// the same bytes between two buffers in this guest. kB/s from 100 ns units: bytes * 10^4 / units.
void throughput() {
    const uint32_t max_sectors = client.max_transfer_bytes() / sector;
    if (capacity == 0 || max_sectors == 0)
        return;
    uint64_t bytes = 0;
    bool ok = true;
    const uint64_t t0 = vectors::ref_now();
    for (int write = 1; write >= 0 && ok; write--)
        for (uint64_t lba = 0; lba < capacity && ok; lba += max_sectors) {
            const uint32_t n = lba + max_sectors > capacity ? static_cast<uint32_t>(capacity - lba) : max_sectors;
            ScsiResult res = run(rw(write != 0, lba > 0xffffffffull, lba, n), big, n * sector);
            ok = res.good();
            bytes += n * sector;
        }
    const uint64_t disk = vectors::ref_now() - t0;
    uint8_t* other = alloc_bytes(max_bytes);
    const uint64_t t1 = vectors::ref_now();
    for (uint64_t done = 0; other && done < bytes; done += max_bytes) {
        if ((done / max_bytes) % 2)
            __builtin_memcpy(big, other, max_bytes);
        else
            __builtin_memcpy(other, big, max_bytes);
        asm volatile("" ::"r"(other), "r"(big) : "memory");
    }
    const uint64_t copy = vectors::ref_now() - t1;
    if (!ok || !other || disk == 0 || copy == 0) {
        rep->diag("no storage figure: ok %d", ok);
        return;
    }
    rt::log("bench: storage-throughput kbps=%lu memcpy_kbps=%lu\n", bytes * 10'000 / disk, bytes * 10'000 / copy);
    rep->diag("storage: %lu KiB in %lu ms (memcpy %lu ms)", bytes >> 10, disk / 10'000,
                                    copy / 10'000);
}

} // namespace

void rt::ap_main(uint32_t) { vp_team::ap_main(); }

int rt::partition_main(const root_abi::RootHandoff& h) {
    suite::Reporter r(suite::sink());
    rep = &r;
    r.begin(planned);
    r.diag("child-storage: backend %s, %u processors", h.backend, h.processor_count);
    bool synic = vmbus_session::init(h, v_vmbus);
    vectors::sti();
    seed = rt::rdtsc() | 1;
    uint8_t id[16];
    __builtin_memcpy(id, st::class_id.bytes, 16);
    ch = synic && vmbus_session::connect() ? vmbus_session::open_device(id, send_pages, recv_pages, 0, &ring) : nullptr;
    r.check(ch != nullptr, "contact, the storvsc offer (class ba6163d9-...), and its channel opened");
    if (!ch)
        return r.finish();
    big = alloc_bytes(max_bytes + 4096);
    small = alloc_bytes(4096);

    // Linux's storvsc_channel_init: BEGIN, the newest version first, properties, END.
    const bool init = client.initialize();
    r.check(init && client.protocol_version() == st::proto::win10 && client.versions_refused() == 0 &&
                client.max_transfer_bytes() >= sector && client.max_transfer_bytes() % sector == 0 &&
                client.max_transfer_bytes() <= max_bytes,
            "initialisation: protocol 6.2 agreed at the first offer; the properties give the largest transfer");
    r.diag("protocol 0x%x (refused %u), max transfer %u bytes, channels %u, flags 0x%x, failed step %u",
           client.protocol_version(), client.versions_refused(), client.max_transfer_bytes(),
           client.properties().max_channel_count, client.properties().flags,
           static_cast<unsigned>(client.failed_step()));
    if (!init)
        return r.finish();

    if (h.processor_count > 1) {
        for (uint32_t vp = 0; vp < vectors::max_vps && vp < h.processor_count; vp++)
            vp_buffers[vp] = alloc_bytes(4 * vp_each);
        uint32_t started = rt::start_aps(h);
        vp_count = started < vectors::max_vps ? started : vectors::max_vps;
    } else {
        vp_buffers[0] = alloc_bytes(4 * vp_each);
    }
    identity_checks(r);
    pattern_checks(r);
    concurrency_checks(r);
    refusal_checks(r, h);
    r.check(client.stray_completions() == 0 && client.bad_packets() == 0 && client.outstanding() == 0,
            "every completion the root sent matched a request, none malformed, none left outstanding");
    if (client.stray_completions() || client.bad_packets() || stalls)
        r.diag("stray %lu, bad %lu; requests without completion %u, answered after another signal %u",
               client.stray_completions(), client.bad_packets(), stalls, kicked_answers);
    throughput();
    // Close the channel as a driver unloading does: the root logs its totals.
    static_cast<void>(vmbus_session::client().close(ch->relid()));
    vmbus_session::pump_for(50);
    return r.finish();
}
