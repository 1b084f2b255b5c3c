// storvsc_client.hpp's guest end. Packet shapes are the ones Linux's storvsc sends (facts read from
// drivers/scsi/storvsc_drv.c): every packet asks for a completion both in the VMBus descriptor
// (flag 1) and in the vstor packet (REQUEST_COMPLETION_FLAG, 1); an SRB that moves data goes as a
// GPA-direct packet with one range (vmbus_packet_mpb_array: reserved, range count 1, then len,
// offset and the PFNs) and data_transfer_length equal to the range's length. CDB layouts: SPC-4
// (INQUIRY 6.6, MODE SENSE 6.13/6.14, REPORT LUNS 6.33, TEST UNIT READY 6.47), SBC-3 (READ/WRITE
// 5.11/5.13/5.32/5.34, READ CAPACITY 5.15/5.16, SYNCHRONIZE CACHE 5.22).
#include "vmbus/storvsc_client.hpp"

namespace vmbus::storvsc {

namespace {

// The versions Linux offers, newest first (storvsc.hpp's proto).
constexpr uint16_t offered_versions[] = {proto::win10, proto::win8_1, proto::win8};
// Vstor packet flag: the child wants a completion (Linux's REQUEST_COMPLETION_FLAG).
constexpr uint32_t request_completion = 1;
// vmscsi_request's Windows 8 extension as Linux fills it: SRB flags (Windows srb.h) and a timeout.
constexpr uint32_t srb_flags_data_in = 0x40;
constexpr uint32_t srb_flags_data_out = 0x80;
constexpr uint32_t srb_flags_disable_synch_transfer = 0x08;
constexpr uint32_t srb_flags_queue_action_enable = 0x02;
constexpr uint32_t srb_timeout_seconds = 60;

ScsiCommand command(uint8_t opcode, uint8_t length, uint8_t direction) {
    ScsiCommand c;
    c.cdb[0] = opcode;
    c.cdb_length = length;
    c.direction = direction;
    return c;
}

// Sense data (SPC-4 4.5): fixed format keeps the key in byte 2 and ASC/ASCQ at 12/13, descriptor
// format the key in byte 1 and ASC/ASCQ at 2/3.
void parse_sense(const uint8_t* sense, uint32_t n, ScsiResult& r) {
    if (n == 0)
        return;
    const uint8_t code = sense[0] & 0x7f;
    if ((code == 0x70 || code == 0x71) && n >= 14) {
        r.sense_key = sense[2] & 0x0f;
        r.asc = sense[12];
        r.ascq = sense[13];
    } else if ((code == 0x72 || code == 0x73) && n >= 4) {
        r.sense_key = sense[1] & 0x0f;
        r.asc = sense[2];
        r.ascq = sense[3];
    }
}

} // namespace

namespace cdb {

ScsiCommand test_unit_ready() { return command(scsi_op::test_unit_ready, 6, data_direction::none); }

ScsiCommand inquiry(uint16_t allocation, bool evpd, uint8_t page) {
    ScsiCommand c = command(scsi_op::inquiry, 6, data_direction::read);
    c.cdb[1] = evpd ? 0x01 : 0x00;
    c.cdb[2] = page;
    put_be16(c.cdb + 3, allocation);
    return c;
}

ScsiCommand report_luns(uint32_t allocation, uint8_t select) {
    ScsiCommand c = command(scsi_op::report_luns, 12, data_direction::read);
    c.cdb[2] = select;
    put_be32(c.cdb + 6, allocation);
    return c;
}

ScsiCommand read_capacity10() { return command(scsi_op::read_capacity10, 10, data_direction::read); }

ScsiCommand read_capacity16(uint32_t allocation) {
    ScsiCommand c = command(scsi_op::service_action_in16, 16, data_direction::read);
    c.cdb[1] = 0x10;   // service action READ CAPACITY (16)
    put_be32(c.cdb + 10, allocation);
    return c;
}

ScsiCommand mode_sense6(uint8_t page, uint8_t allocation) {
    ScsiCommand c = command(scsi_op::mode_sense6, 6, data_direction::read);
    c.cdb[2] = page & 0x3f;   // PC 00b: current values
    c.cdb[4] = allocation;
    return c;
}

ScsiCommand mode_sense10(uint8_t page, uint16_t allocation) {
    ScsiCommand c = command(scsi_op::mode_sense10, 10, data_direction::read);
    c.cdb[2] = page & 0x3f;
    put_be16(c.cdb + 7, allocation);
    return c;
}

ScsiCommand synchronize_cache10(uint32_t lba, uint16_t blocks) {
    ScsiCommand c = command(scsi_op::synchronize_cache10, 10, data_direction::none);
    put_be32(c.cdb + 2, lba);
    put_be16(c.cdb + 7, blocks);
    return c;
}

ScsiCommand read10(uint32_t lba, uint16_t blocks) {
    ScsiCommand c = command(scsi_op::read10, 10, data_direction::read);
    put_be32(c.cdb + 2, lba);
    put_be16(c.cdb + 7, blocks);
    return c;
}

ScsiCommand write10(uint32_t lba, uint16_t blocks) {
    ScsiCommand c = read10(lba, blocks);
    c.cdb[0] = scsi_op::write10;
    c.direction = data_direction::write;
    return c;
}

ScsiCommand read16(uint64_t lba, uint32_t blocks) {
    ScsiCommand c = command(scsi_op::read16, 16, data_direction::read);
    put_be64(c.cdb + 2, lba);
    put_be32(c.cdb + 10, blocks);
    return c;
}

ScsiCommand write16(uint64_t lba, uint32_t blocks) {
    ScsiCommand c = read16(lba, blocks);
    c.cdb[0] = scsi_op::write16;
    c.direction = data_direction::write;
    return c;
}

ScsiCommand raw(const uint8_t* bytes, uint8_t length, uint8_t direction) {
    ScsiCommand c;
    c.cdb_length = length <= max_cdb_length ? length : max_cdb_length;
    __builtin_memcpy(c.cdb, bytes, c.cdb_length);
    c.direction = direction;
    return c;
}

} // namespace cdb

void StorvscClient::lock() {
    while (__atomic_exchange_n(&lock_, 1u, __ATOMIC_ACQUIRE) != 0)
        while (__atomic_load_n(&lock_, __ATOMIC_RELAXED) != 0)
            __builtin_ia32_pause();
}

void StorvscClient::unlock() { __atomic_store_n(&lock_, 0u, __ATOMIC_RELEASE); }

uint32_t StorvscClient::outstanding() const {
    uint32_t n = 0;
    for (const Slot& s : slots_)
        n += s.state == Slot::State::pending ? 1 : 0;
    return n;
}

// A free slot and a fresh transaction id for it (called locked). Ids only grow, so a late or
// repeated completion can never be taken for a newer request.
StorvscClient::Slot* StorvscClient::claim(uint64_t& id) {
    for (Slot& s : slots_)
        if (s.state == Slot::State::free) {
            id = next_id_++;
            s = Slot{};
            s.state = Slot::State::pending;
            s.id = id;
            return &s;
        }
    return nullptr;
}

// One packet out (called locked). While the outbound ring is full, the inbound one is drained:
// the root holds a completion back while the child's ring has no room, and stops reading
// requests until it is out (vmbus_storage.cpp), so waiting without reading would deadlock.
bool StorvscClient::send_locked(const OutPacket& h, const Span* parts, uint32_t count) {
    for (uint32_t round = 0;; round++) {
        const RingStatus s = t_.send(t_.context, h, parts, count);
        if (s == RingStatus::ok)
            return true;
        if (s != RingStatus::full)
            return false;
        poll_locked();
        unlock();
        const bool go_on = t_.wait == nullptr || t_.wait(t_.context, round);
        lock();
        if (!go_on)
            return false;
    }
}

void StorvscClient::complete(const Packet& p) {
    if (p.type != packet_type::completion) {
        bad_++;
        return;
    }
    Slot* slot = nullptr;
    for (Slot& s : slots_)
        if (s.state == Slot::State::pending && s.id == p.trans_id)
            slot = &s;
    if (slot == nullptr) {
        stray_++;
        return;
    }
    ScsiResult& r = slot->result;
    r = ScsiResult{};
    r.completed = true;
    // An answer at least as long as the pre-Windows 8 packet, saying COMPLETE_IO (Linux's
    // storvsc_on_receive treats anything else as not a completion).
    VstorPacket v{};
    const uint32_t min_size = sizeof(VstorPacket) - win8_extension_size;
    if (p.data_size < min_size) {
        r.malformed = true;
        bad_++;
    } else {
        __builtin_memcpy(&v, p.data, p.data_size < sizeof v ? p.data_size : sizeof v);
        r.malformed = v.operation != static_cast<uint32_t>(Operation::complete_io);
        r.status = v.status;
        r.srb_status = v.srb.srb_status & 0x3f;
        r.autosense = (v.srb.srb_status & srb_status::autosense_valid) != 0;
        r.scsi_status = v.srb.scsi_status;
        r.transferred = v.srb.data_transfer_length;
        r.sense_length = v.srb.sense_info_length < sense_buffer_size ? v.srb.sense_info_length : sense_buffer_size;
        if (r.autosense)
            parse_sense(v.srb.sense_data, r.sense_length, r);
    }
    slot->init_answer = v;
    slot->state = Slot::State::done;
}

void StorvscClient::poll_locked() {
    alignas(8) uint8_t buffer[sizeof(PacketDescriptor) + sizeof(VstorPacket) + 64];
    Packet p{};
    bool any = false;
    for (uint32_t i = 0; i < client_limits::poll_batch; i++) {
        const RingStatus s = t_.receive(t_.context, buffer, sizeof buffer, p);
        if (s == RingStatus::empty)
            break;
        any = true;
        if (s != RingStatus::ok) {
            // Too long for a vstor answer, or a broken ring: counted; a broken ring keeps failing
            // and the waiter's deadline ends the wait.
            bad_++;
            break;
        }
        complete(p);
    }
    if (any && t_.done_receiving != nullptr)
        t_.done_receiving(t_.context);
}

bool StorvscClient::poll() {
    lock();
    const uint64_t before = stray_ + bad_;
    uint32_t done_before = 0, done_after = 0;
    for (const Slot& s : slots_)
        done_before += s.state == Slot::State::done ? 1 : 0;
    poll_locked();
    for (const Slot& s : slots_)
        done_after += s.state == Slot::State::done ? 1 : 0;
    const bool any = done_after != done_before || stray_ + bad_ != before;
    unlock();
    return any;
}

bool StorvscClient::take(uint64_t id, ScsiResult& out) {
    lock();
    bool got = false;
    for (Slot& s : slots_)
        if (s.state == Slot::State::done && s.id == id) {
            out = s.result;
            s.state = Slot::State::free;
            got = true;
        }
    unlock();
    return got;
}

void StorvscClient::wait(uint64_t id, ScsiResult& out) {
    out = ScsiResult{};
    if (id == 0)
        return;
    for (uint32_t round = 0;; round++) {
        poll();
        if (take(id, out))
            return;
        if (t_.wait == nullptr || !t_.wait(t_.context, round)) {
            // Given up: one last look, then the slot is released so it is not leaked; a late
            // completion for it is counted as stray.
            poll();
            if (take(id, out))
                return;
            lock();
            for (Slot& s : slots_)
                if (s.id == id && s.state != Slot::State::free)
                    s.state = Slot::State::free;
            unlock();
            return;
        }
    }
}

uint64_t StorvscClient::submit(const ScsiCommand& c) {
    if (c.cdb_length == 0 || c.cdb_length > max_cdb_length)
        return 0;
    const uint32_t offset = static_cast<uint32_t>(c.gpa & (page_size - 1));
    const uint32_t pages = c.length == 0 ? 0 : (offset + c.length + page_size - 1) / page_size;
    if (pages > storvsc_limits::max_pages)
        return 0;

    VstorPacket v{};
    v.operation = static_cast<uint32_t>(Operation::execute_srb);
    v.flags = request_completion;
    ScsiRequest& s = v.srb;
    s.length = sizeof(ScsiRequest);
    s.path_id = c.path;
    s.target_id = c.target;
    s.lun = c.lun;
    s.cdb_length = c.cdb_length;
    __builtin_memcpy(s.cdb, c.cdb, c.cdb_length);
    s.sense_info_length = sense_buffer_size;
    s.data_in = c.direction;
    s.data_transfer_length = c.length;
    s.srb_flags = srb_flags_disable_synch_transfer | srb_flags_queue_action_enable |
                  (c.direction == data_direction::read    ? srb_flags_data_in
                   : c.direction == data_direction::write ? srb_flags_data_out
                                                          : 0);
    s.time_out_value = srb_timeout_seconds;

    // The range header and the PFNs, one span before the vstor packet.
    alignas(8) uint8_t range[sizeof(GpaRangeHeader) + 8 * storvsc_limits::max_pages];
    const GpaRangeHeader h{0, 1, c.length, offset};
    __builtin_memcpy(range, &h, sizeof h);
    for (uint32_t i = 0; i < pages; i++) {
        const uint64_t pfn = c.pfns != nullptr ? c.pfns[i] : (c.gpa >> 12) + i;
        __builtin_memcpy(range + sizeof h + 8 * i, &pfn, 8);
    }
    const uint32_t range_size = static_cast<uint32_t>(sizeof h) + 8 * pages;

    lock();
    uint64_t id = 0;
    Slot* slot = claim(id);
    if (slot == nullptr) {
        unlock();
        return 0;
    }
    bool sent;
    if (c.length == 0) {
        const Span part{&v, sizeof v};
        sent = send_locked(OutPacket{packet_type::data_inband, flag_completion_requested, id, 2}, &part, 1);
    } else {
        const Span parts[2] = {{range, range_size}, {&v, sizeof v}};
        const uint16_t offset8 = static_cast<uint16_t>((sizeof(PacketDescriptor) + range_size) / 8);
        sent = send_locked(OutPacket{packet_type::data_using_gpa_direct, flag_completion_requested, id, offset8},
                           parts, 2);
    }
    if (!sent)
        slot->state = Slot::State::free;
    unlock();
    return sent ? id : 0;
}

ScsiResult StorvscClient::execute(const ScsiCommand& c) {
    ScsiResult r;
    wait(submit(c), r);
    return r;
}

// One initialisation operation, inband, waited for. `fill` supplies the request's payload.
bool StorvscClient::operation(Operation op, InitStep step, const VstorPacket* fill, VstorPacket& answer) {
    VstorPacket v = fill != nullptr ? *fill : VstorPacket{};
    v.operation = static_cast<uint32_t>(op);
    v.flags = request_completion;
    lock();
    uint64_t id = 0;
    Slot* slot = claim(id);
    const Span part{&v, sizeof v};
    const bool sent = slot != nullptr && send_locked(OutPacket{packet_type::data_inband, flag_completion_requested, id, 2}, &part, 1);
    if (slot != nullptr && !sent)
        slot->state = Slot::State::free;
    unlock();
    if (!sent) {
        failed_ = step;
        return false;
    }
    ScsiResult r;
    for (uint32_t round = 0;; round++) {
        poll();
        bool got = false;
        lock();
        for (Slot& s : slots_)
            if (s.state == Slot::State::done && s.id == id) {
                r = s.result;
                answer = s.init_answer;
                s.state = Slot::State::free;
                got = true;
            }
        unlock();
        if (got)
            break;
        if (t_.wait == nullptr || !t_.wait(t_.context, round)) {
            lock();
            for (Slot& s : slots_)
                if (s.id == id)
                    s.state = Slot::State::free;
            unlock();
            failed_ = step;
            return false;
        }
    }
    if (r.malformed || r.status != status_success) {
        failed_ = step;
        return false;
    }
    return true;
}

bool StorvscClient::initialize() {
    step_ = InitStep::none;
    failed_ = InitStep::none;
    version_ = 0;
    refused_versions_ = 0;
    properties_ = ChannelProperties{};
    VstorPacket answer{};
    if (!operation(Operation::begin_initialization, InitStep::begin, nullptr, answer))
        return false;
    step_ = InitStep::begin;
    bool agreed = false;
    for (uint16_t version : offered_versions) {
        VstorPacket request{};
        request.version.major_minor = version;
        request.version.revision = 0;   // Linux sends 0
        if (operation(Operation::query_protocol_version, InitStep::version, &request, answer)) {
            version_ = version;
            agreed = true;
            break;
        }
        refused_versions_++;
    }
    if (!agreed) {
        failed_ = InitStep::version;
        return false;
    }
    failed_ = InitStep::none;
    step_ = InitStep::version;
    if (!operation(Operation::query_properties, InitStep::properties, nullptr, answer))
        return false;
    properties_ = answer.properties;
    step_ = InitStep::properties;
    if (!operation(Operation::end_initialization, InitStep::end, nullptr, answer))
        return false;
    step_ = InitStep::done;
    return true;
}

} // namespace vmbus::storvsc
