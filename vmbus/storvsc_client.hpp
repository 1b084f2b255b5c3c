// The child's side of synthetic SCSI storage (storvsc; HYPERV-FACTS "storvsc"): the guest end that
// drives a StorageTarget (vmbus/storvsc.hpp) over a channel the way Linux's storvsc driver does
// (drivers/scsi/storvsc_drv.c, read as facts): the four-step initialisation (BEGIN_INITIALIZATION,
// QUERY_PROTOCOL_VERSION newest first, QUERY_PROPERTIES, END_INITIALIZATION), then EXECUTE_SRB
// packets, inband when no data moves and GPA direct (type 9) with one page range when it does.
// Completions (type 11) are matched to their requests by transaction id, so several requests may
// be outstanding at once, submitted and polled from any processor. Freestanding and heap-free:
// the ring operations come from the caller (StorvscTransport). docs/vmbus.md, "Storage".
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "vmbus/ring.hpp"
#include "vmbus/storvsc.hpp"

namespace vmbus::storvsc {

namespace client_limits {
// Requests outstanding at once (Linux's storvsc allows many more; the ring bounds it anyway:
// each GPA-direct packet of a full transfer takes about 600 bytes of the outbound ring).
inline constexpr uint32_t max_outstanding = 32;
// Packets received in one poll before the lock is given up.
inline constexpr uint32_t poll_batch = 64;
} // namespace client_limits

// How the client reaches the channel. send writes one packet to the outbound ring (signalling
// the root when the ring rules say so); receive copies the next inbound packet out (empty when
// none); done_receiving publishes the read index. wait is called between polls while a caller
// waits for a completion: round 0 starts a wait (set a deadline), later rounds continue it; it
// returns false to give up (deadline passed). Each is called with the client's lock held, so the
// rings see one producer and one consumer however many processors use the client.
struct StorvscTransport {
    void* context = nullptr;
    RingStatus (*send)(void* context, const OutPacket& header, const Span* parts, uint32_t count) = nullptr;
    RingStatus (*receive)(void* context, uint8_t* buffer, uint32_t capacity, Packet& out) = nullptr;
    void (*done_receiving)(void* context) = nullptr;
    bool (*wait)(void* context, uint32_t round) = nullptr;
};

// One SCSI command. The data buffer is `length` bytes: contiguous guest-physical memory from
// `gpa`, or when `pfns` is set, the 4 KiB pages it lists (as many as offset (gpa's low 12 bits)
// plus length need), which lets a caller describe any page list, hostile ones included.
struct ScsiCommand {
    uint8_t cdb[max_cdb_length] = {};
    uint8_t cdb_length = 0;
    uint8_t direction = data_direction::none;
    uint8_t path = 0;
    uint8_t target = 0;
    uint8_t lun = 0;
    uint64_t gpa = 0;
    uint32_t length = 0;
    const uint64_t* pfns = nullptr;
};

// What came back for one command.
struct ScsiResult {
    bool completed = false;       // a completion with the request's transaction id arrived
    bool malformed = false;       // it did (completed) but was not a valid vstor answer
    uint32_t status = 0;          // the vstor packet's status (0 success)
    uint8_t srb_status = 0;       // without the flag bits
    bool autosense = false;       // SRB_STATUS_AUTOSENSE_VALID: sense bytes were returned
    uint8_t scsi_status = 0;      // SAM status
    uint8_t sense_key = 0;        // parsed from fixed (70h/71h) or descriptor (72h/73h) sense
    uint8_t asc = 0;
    uint8_t ascq = 0;
    uint8_t sense_length = 0;
    uint32_t transferred = 0;     // data_transfer_length of the answer
    // GOOD as Linux's storvsc counts it: packet status 0, SRB SUCCESS, SAM GOOD.
    [[nodiscard]] bool good() const {
        return completed && !malformed && status == status_success && srb_status == srb_status::success &&
               scsi_status == scsi_good;
    }
    // CHECK CONDITION with the given sense key and ASC.
    [[nodiscard]] bool check_condition(uint8_t key, uint8_t code) const {
        return completed && !malformed && scsi_status == scsi_check_condition && autosense && sense_key == key &&
               asc == code;
    }
};

// CDB builders (big-endian fields). The data buffer (gpa, length) is the caller's to fill in.
namespace cdb {
[[nodiscard]] ScsiCommand test_unit_ready();
[[nodiscard]] ScsiCommand inquiry(uint16_t allocation, bool evpd = false, uint8_t page = 0);
[[nodiscard]] ScsiCommand report_luns(uint32_t allocation, uint8_t select = 0);
[[nodiscard]] ScsiCommand read_capacity10();
[[nodiscard]] ScsiCommand read_capacity16(uint32_t allocation);
[[nodiscard]] ScsiCommand mode_sense6(uint8_t page, uint8_t allocation);
[[nodiscard]] ScsiCommand mode_sense10(uint8_t page, uint16_t allocation);
[[nodiscard]] ScsiCommand synchronize_cache10(uint32_t lba = 0, uint16_t blocks = 0);
[[nodiscard]] ScsiCommand read10(uint32_t lba, uint16_t blocks);
[[nodiscard]] ScsiCommand write10(uint32_t lba, uint16_t blocks);
[[nodiscard]] ScsiCommand read16(uint64_t lba, uint32_t blocks);
[[nodiscard]] ScsiCommand write16(uint64_t lba, uint32_t blocks);
// Any CDB as given (length 1..16), no data.
[[nodiscard]] ScsiCommand raw(const uint8_t* bytes, uint8_t length, uint8_t direction = data_direction::none);
} // namespace cdb

class StorvscClient {
public:
    explicit StorvscClient(StorvscTransport t) : t_(t) {}
    StorvscClient(const StorvscClient&) = delete;
    StorvscClient& operator=(const StorvscClient&) = delete;

    enum class InitStep : uint8_t { none, begin, version, properties, end, done };

    // The initialisation Linux's storvsc_channel_init performs, each step waited for: versions
    // offered newest first (6.2, 6.0, 5.1: Windows 10, 8.1, 8) until one is accepted. False with
    // failed_step() saying where it stopped.
    [[nodiscard]] bool initialize();
    [[nodiscard]] bool ready() const { return step_ == InitStep::done; }
    [[nodiscard]] InitStep failed_step() const { return failed_; }
    [[nodiscard]] uint16_t protocol_version() const { return version_; }
    [[nodiscard]] uint32_t versions_refused() const { return refused_versions_; }
    [[nodiscard]] const ChannelProperties& properties() const { return properties_; }
    [[nodiscard]] uint32_t max_transfer_bytes() const { return properties_.max_transfer_bytes; }

    // Sends one command; returns its transaction id (never 0), or 0 when it could not be sent (no
    // free slot, a page list longer than max_pages, the ring refused it or stayed full past the
    // transport's deadline).
    [[nodiscard]] uint64_t submit(const ScsiCommand& c);
    // Takes the completions waiting in the inbound ring into their slots; true when any arrived.
    bool poll();
    // Whether the request `id` has completed; when it has, its result is copied and its slot freed.
    [[nodiscard]] bool take(uint64_t id, ScsiResult& out);
    // Polls until `id` completes or the transport gives up. out.completed says which.
    void wait(uint64_t id, ScsiResult& out);
    // submit + wait.
    [[nodiscard]] ScsiResult execute(const ScsiCommand& c);

    // Completions that matched no outstanding request, and inbound packets that were not
    // completions or not a vstor answer (the root broke the protocol).
    [[nodiscard]] uint64_t stray_completions() const { return stray_; }
    [[nodiscard]] uint64_t bad_packets() const { return bad_; }
    [[nodiscard]] uint32_t outstanding() const;

private:
    struct Slot {
        enum class State : uint8_t { free, pending, done };
        State state = State::free;
        uint64_t id = 0;
        ScsiResult result{};
        VstorPacket init_answer{};   // the whole answer, for the initialisation steps
    };

    void lock();
    void unlock();
    [[nodiscard]] bool operation(Operation op, InitStep step, const VstorPacket* fill, VstorPacket& answer);
    [[nodiscard]] Slot* claim(uint64_t& id);
    [[nodiscard]] bool send_locked(const OutPacket& h, const Span* parts, uint32_t count);
    void poll_locked();
    void complete(const Packet& p);

    StorvscTransport t_;
    Slot slots_[client_limits::max_outstanding];
    uint64_t next_id_ = 1;
    uint32_t lock_ = 0;
    InitStep step_ = InitStep::none;
    InitStep failed_ = InitStep::none;
    uint16_t version_ = 0;
    uint32_t refused_versions_ = 0;
    ChannelProperties properties_{};
    uint64_t stray_ = 0;
    uint64_t bad_ = 0;
};

} // namespace vmbus::storvsc
