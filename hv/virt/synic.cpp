// The SynIC of every partition (hv/virt/synic.hpp): per-VP MSRs, the port and connection tables,
// message and event delivery. One lock guards the tables, the message pool and the SIMP slots
// the hypervisor fills; an interrupt for another processor is raised after it is dropped (the
// wake-up IPI must not wait on a processor that spins for this lock).
#include "hv/virt/synic.hpp"

#include "hv/lib/spinlock.hpp"
#include "hv/virt/children.hpp"
#include "hv/virt/guest_memory.hpp"
#include "hv/virt/vp_runtime.hpp"
#include "hv/virt/vtimer.hpp"
#include "partitions/partition.hpp"

namespace hv::virt {
namespace {

namespace r = tlfs::root;
using tlfs::Status;

struct Port {
    bool used = false;
    uint64_t partition = 0;          // the owner, which receives
    uint32_t id = 0;
    r::PortType type{};
    uint32_t vp = 0, sint = 0;
    uint16_t base_flag = 0, flag_count = 0;
    uint64_t allowed = 0;            // the only partition that may connect, or 0: any
};

struct Connection {
    bool used = false;
    uint64_t partition = 0;          // the sender
    uint32_t id = 0;
    uint64_t port_partition = 0;
    uint32_t port_id = 0;
};

// Scheduler VP signals waiting for root VP 0's SINT 0 slot (synic.hpp, scheduler_signal).
struct SchedulerSignals {
    uint32_t count = 0;
    uint32_t overflow = 0;
    uint64_t partition[r::vp_signal_pairs_max] = {};
    uint32_t vp[r::vp_signal_pairs_max] = {};
};

struct State {
    Spinlock lock;
    Port ports[max_ports];
    Connection connections[max_connections];
    MessagePool<message_pool_size> pool;
    SchedulerSignals sched;
};
State& state() {
    static State s;
    return s;
}

Port* find_port(State& s, uint64_t partition, uint32_t id) {
    for (auto& p : s.ports)
        if (p.used && p.partition == partition && p.id == id)
            return &p;
    return nullptr;
}
Connection* find_connection(State& s, uint64_t partition, uint32_t id) {
    for (auto& c : s.connections)
        if (c.used && c.partition == partition && c.id == id)
            return &c;
    return nullptr;
}

bool has_synic(const Partition& p) { return p.cpuid.privileges & tlfs::privilege::synic_msrs; }

Vp* notify_scheduler(State& s, Vp& child);

// Marks the SINT's vector pending on `vp`; returns the VP to wake once the lock is dropped.
Vp* raise(Vp& vp, uint32_t sint) {
    uint64_t reg = vp.synic.sint[sint];
    if (!sint_interrupts(reg))
        return nullptr;
    raise_soft(vp, sint_vector(reg));
    // A child VP runs only when the root dispatches it: one not in its guest sees it at entry,
    // and one halted in the root's scheduler is woken there.
    if (vp.partition->child && !__atomic_load_n(&vp.running, __ATOMIC_ACQUIRE))
        return notify_scheduler(state(), vp);
    return &vp;
}

uint64_t slot_gpa(const Vp& vp, uint32_t sint) { return (vp.synic.simp & page_reg::gpa_mask) + sint * sizeof(r::Message); }

// The slot's type, or a non-zero value when it cannot be read.
uint32_t slot_type(const Vp& vp, uint32_t sint) {
    uint32_t t = 1;
    return read_guest(*vp.partition, GuestPhysAddr(slot_gpa(vp, sint)), &t, sizeof t) ? t : 1;
}

// Writes `m` into an empty slot: header and the payload's bytes only (TLFS 11.x), the type last
// so a guest polling the type sees a complete message.
bool fill_slot(Vp& vp, uint32_t sint, r::Message m, bool more) {
    m.header.flags = more ? r::message_flag::pending : 0;
    const Partition& p = *vp.partition;
    uint64_t gpa = slot_gpa(vp, sint);
    uint32_t type = static_cast<uint32_t>(m.header.type);
    if (!write_guest(p, GuestPhysAddr(gpa + 4), reinterpret_cast<const uint8_t*>(&m) + 4, 12 + m.header.payload_size))
        return false;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    return write_guest(p, GuestPhysAddr(gpa), &type, sizeof type);
}

void set_pending_flag(Vp& vp, uint32_t sint) {
    uint8_t f = 0;
    GuestPhysAddr at(slot_gpa(vp, sint) + __builtin_offsetof(r::MessageHeader, flags));
    if (read_guest(*vp.partition, at, &f, 1)) {
        f |= r::message_flag::pending;
        static_cast<void>(write_guest(*vp.partition, at, &f, 1));
    }
}

// Moves the next queued message into the slot if it is empty. Under the lock.
Vp* deliver_queued(State& s, Vp& vp, uint32_t sint) {
    if (!(vp.synic.queued & (1u << sint)) || !vp.synic.simp_on() || slot_type(vp, sint) != 0)
        return nullptr;
    SlotKey k{vp.partition->id, vp.index, sint};
    r::Message m;
    if (!s.pool.pop(k, m)) {
        vp.synic.queued &= static_cast<uint16_t>(~(1u << sint));
        return nullptr;
    }
    bool more = s.pool.count(k) != 0;
    if (!more)
        vp.synic.queued &= static_cast<uint16_t>(~(1u << sint));
    if (!fill_slot(vp, sint, m, more))
        return nullptr;
    return raise(vp, sint);
}

void wake(Vp* vp) {
    if (vp)
        kick(*vp);
}

// Posts the pending scheduler signals into root VP 0's SINT 0 slot if it is empty; returns the
// VP to kick. Under the lock.
Vp* flush_scheduler(State& s) {
    SchedulerSignals& q = s.sched;
    if (!q.count && !q.overflow)
        return nullptr;
    Partition* root = children::find_partition(root_partition_id);
    Vp* vp0 = root ? root->vp_at(0) : nullptr;
    if (!vp0 || !vp0->synic.simp_on())
        return nullptr;   // the root takes no signals (yet): they wait
    if (slot_type(*vp0, 0) != 0) {
        set_pending_flag(*vp0, 0);
        if (slot_type(*vp0, 0) != 0)   // still busy: the root's EOM brings them
            return nullptr;
    }
    r::SchedulerVpSignalPair pl{};
    pl.overflow_count = q.overflow;
    pl.vp_count = static_cast<uint8_t>(q.count);
    for (uint32_t i = 0; i < q.count; i++) {
        pl.partition_ids[i] = q.partition[i];
        pl.vp_indexes[i] = q.vp[i];
    }
    r::Message m = make_message(static_cast<uint32_t>(r::MessageType::scheduler_vp_signal_pair), 0, &pl, sizeof pl);
    if (!fill_slot(*vp0, 0, m, false))
        return nullptr;
    q = SchedulerSignals{};
    uint64_t reg = vp0->synic.sint[0];
    if (!sint_interrupts(reg))
        return nullptr;
    raise_soft(*vp0, sint_vector(reg));
    return vp0;
}

Vp* notify_scheduler(State& s, Vp& child) {
    // Once per halt: the flag is set when DispatchVp returns the VP halted.
    if (!__atomic_exchange_n(&child.halted_in_root, false, __ATOMIC_ACQ_REL))
        return nullptr;
    SchedulerSignals& q = s.sched;
    uint64_t id = child.partition->id;
    bool known = false;
    for (uint32_t i = 0; i < q.count; i++)
        known = known || (q.partition[i] == id && q.vp[i] == child.index);
    if (!known) {
        if (q.count < r::vp_signal_pairs_max) {
            q.partition[q.count] = id;
            q.vp[q.count] = child.index;
            q.count++;
        } else {
            q.overflow++;
        }
    }
    return flush_scheduler(s);
}

// The target VP of a port, with its partition checked to be alive.
Vp* target_vp(const Port& port) {
    Partition* p = children::find_partition(port.partition);
    return p ? p->vp_at(port.vp) : nullptr;
}

} // namespace

bool synic_read(Vp& vp, uint32_t msr, uint64_t& value) {
    if (!has_synic(*vp.partition))
        return false;
    IrqLockGuard g(state().lock);
    const SynicVp& sy = vp.synic;
    switch (msr) {
    case tlfs::msr::scontrol: value = sy.scontrol; return true;
    case tlfs::msr::sversion: value = synic_version; return true;
    case tlfs::msr::siefp: value = sy.siefp; return true;
    case tlfs::msr::simp: value = sy.simp; return true;
    case tlfs::msr::eom: return false;   // write-only
    default: value = sy.sint[msr - tlfs::msr::sint0]; return true;
    }
}

bool synic_write(Vp& vp, uint32_t msr, uint64_t value) {
    if (!has_synic(*vp.partition))
        return false;
    State& s = state();
    Vp* w = nullptr;
    {
        IrqLockGuard g(s.lock);
        SynicVp& sy = vp.synic;
        switch (msr) {
        case tlfs::msr::scontrol:
            if (value & ~1ull)
                return false;
            sy.scontrol = value;
            break;
        case tlfs::msr::sversion:
            return false;   // read-only
        case tlfs::msr::siefp:
        case tlfs::msr::simp: {
            PhysAddr h;
            if (!page_reg_valid(value) ||
                ((value & page_reg::enable) && !gpa_to_hpa(*vp.partition, GuestPhysAddr(value & page_reg::gpa_mask), true, h)))
                return false;   // a page the partition cannot write (TLFS: its own RAM only)
            (msr == tlfs::msr::simp ? sy.simp : sy.siefp) = value;
            break;
        }
        case tlfs::msr::eom:
            // "I emptied a slot": every SINT with messages waiting gets its next one if its slot is empty.
            for (uint32_t i = 0; i < sint_count; i++)
                if (Vp* x = deliver_queued(s, vp, i))
                    w = x;
            if (vp.partition->id == root_partition_id && vp.index == 0)
                if (Vp* x = flush_scheduler(s))
                    w = x;
            break;
        default:
            if (!sint_valid(value))
                return false;
            sy.sint[msr - tlfs::msr::sint0] = value;
            break;
        }
    }
    wake(w);   // our own VP: kick() does nothing on this processor
    if (msr == tlfs::msr::eom)
        stimer_retry_messages(vp);   // outside the lock: it takes it to post
    return true;
}

namespace synic {

void scheduler_signal(Vp& child_vp) {
    Vp* w;
    {
        IrqLockGuard g(state().lock);
        w = notify_scheduler(state(), child_vp);
    }
    wake(w);
}

HvDelivery post_from_hypervisor(Vp& vp, uint32_t sint, const r::Message& m) {
    State& s = state();
    Vp* w = nullptr;
    {
        IrqLockGuard g(s.lock);
        if (sint >= sint_count || !vp.synic.simp_on())
            return HvDelivery::synic_off;
        if (slot_type(vp, sint) != 0) {
            set_pending_flag(vp, sint);
            // The guest may have emptied the slot before it could see the flag.
            if (slot_type(vp, sint) != 0)
                return HvDelivery::slot_busy;
        }
        if (!fill_slot(vp, sint, m, false))
            return HvDelivery::synic_off;
        w = raise(vp, sint);
    }
    wake(w);
    return HvDelivery::delivered;
}

Status create_port(Partition& caller, const r::CreatePortInput& in) {
    static_cast<void>(caller);
    if ((in.port_id & ~r::port_id_mask) || in.port_id == 0 || in.port_vtl || in.min_connection_vtl || in.reserved ||
        in.port_info.padding)
        return Status::invalid_parameter;
    Partition* owner = children::find_partition(in.port_partition_id);
    if (!owner)
        return Status::invalid_partition_id;
    if (in.connection_partition_id && !children::find_partition(in.connection_partition_id))
        return Status::invalid_partition_id;
    Port np{true, in.port_partition_id, in.port_id, in.port_info.type, 0, 0, 0, 0, in.connection_partition_id};
    switch (in.port_info.type) {
    case r::PortType::message:
        if (in.port_info.info.message.reserved)
            return Status::invalid_parameter;
        np.sint = in.port_info.info.message.target_sint;
        np.vp = in.port_info.info.message.target_vp;
        break;
    case r::PortType::event: {
        const auto& e = in.port_info.info.event;
        if (e.reserved || e.flag_count == 0 || uint32_t{e.base_flag_number} + e.flag_count > event_flags_per_sint)
            return Status::invalid_parameter;
        np.sint = e.target_sint;
        np.vp = e.target_vp;
        np.base_flag = e.base_flag_number;
        np.flag_count = e.flag_count;
        break;
    }
    default:
        return Status::invalid_parameter;   // monitor and doorbell ports are not offered
    }
    if (np.vp == r::any_vp)
        np.vp = 0;   // "any VP": the hypervisor picks; it picks VP 0
    if (np.sint >= sint_count)
        return Status::invalid_parameter;
    if (!owner->vp_at(np.vp))
        return Status::invalid_vp_index;
    State& s = state();
    IrqLockGuard g(s.lock);
    if (find_port(s, np.partition, np.id))
        return Status::invalid_port_id;   // in use
    for (auto& p : s.ports)
        if (!p.used) {
            p = np;
            return Status::success;
        }
    return Status::insufficient_buffers;
}

Status connect_port(Partition& caller, const r::ConnectPortInput& in) {
    static_cast<void>(caller);
    if ((in.connection_id & ~r::port_id_mask) || in.connection_id == 0 || in.connection_vtl || in.reserved0 ||
        in.reserved1 || in.reserved2 || in.connection_info.padding)
        return Status::invalid_parameter;
    if (!children::find_partition(in.connection_partition_id) || !children::find_partition(in.port_partition_id))
        return Status::invalid_partition_id;
    State& s = state();
    IrqLockGuard g(s.lock);
    Port* port = find_port(s, in.port_partition_id, in.port_id);
    if (!port)
        return Status::invalid_port_id;
    if (in.connection_info.type != port->type || in.connection_info.info.message.reserved)
        return Status::invalid_parameter;
    if (port->allowed && port->allowed != in.connection_partition_id)
        return Status::access_denied;
    if (find_connection(s, in.connection_partition_id, in.connection_id))
        return Status::invalid_connection_id;   // in use
    for (auto& c : s.connections)
        if (!c.used) {
            c = {true, in.connection_partition_id, in.connection_id, in.port_partition_id, in.port_id};
            return Status::success;
        }
    return Status::insufficient_buffers;
}

Status delete_port(Partition&, uint64_t partition_id, uint32_t port_id) {
    if (!children::find_partition(partition_id))
        return Status::invalid_partition_id;
    State& s = state();
    IrqLockGuard g(s.lock);
    Port* p = find_port(s, partition_id, port_id);
    if (!p)
        return Status::invalid_port_id;
    p->used = false;   // connections stay; posting to them answers HV_STATUS_INVALID_PORT_ID
    return Status::success;
}

Status disconnect_port(Partition&, uint64_t partition_id, uint32_t connection_id) {
    if (!children::find_partition(partition_id))
        return Status::invalid_partition_id;
    State& s = state();
    IrqLockGuard g(s.lock);
    Connection* c = find_connection(s, partition_id, connection_id);
    if (!c)
        return Status::invalid_connection_id;
    c->used = false;
    return Status::success;
}

namespace {
// The sender's connection to its port, with the lock held: an unknown connection, a deleted port,
// or a connection of the other kind each get their TLFS status.
Status resolve(State& s, const Partition& caller, uint32_t connection_id, r::PortType want, Port*& port) {
    Connection* c = find_connection(s, caller.id, connection_id);
    if (!c)
        return Status::invalid_connection_id;
    port = find_port(s, c->port_partition, c->port_id);
    if (!port)
        return Status::invalid_port_id;
    return port->type == want ? Status::success : Status::invalid_connection_id;
}
} // namespace

Status post_message(Partition& caller, uint32_t connection_id, uint32_t type, const void* payload, uint32_t size) {
    State& s = state();
    Vp* w = nullptr;
    {
        IrqLockGuard g(s.lock);
        Port* port;
        if (Status st = resolve(s, caller, connection_id, r::PortType::message, port); st != Status::success)
            return st;
        Vp* vp = target_vp(*port);
        // A VP whose SynIC or message page is off is no target (TLFS 11.x): an error to the sender.
        if (!vp || !vp->synic.simp_on())
            return Status::invalid_synic_state;
        r::Message m = make_message(type, port->id, payload, size);
        SlotKey k{port->partition, port->vp, port->sint};
        if (!(vp->synic.queued & (1u << port->sint)) && slot_type(*vp, port->sint) == 0) {
            if (!fill_slot(*vp, port->sint, m, false))
                return Status::invalid_synic_state;
            w = raise(*vp, port->sint);
        } else {
            switch (s.pool.push(k, m)) {
            case MessagePool<message_pool_size>::Push::ok: break;
            default: return Status::insufficient_buffers;
            }
            vp->synic.queued = static_cast<uint16_t>(vp->synic.queued | (1u << port->sint));
            set_pending_flag(*vp, port->sint);
            // The guest may have emptied the slot before it could see the flag.
            w = deliver_queued(s, *vp, port->sint);
        }
    }
    wake(w);
    return Status::success;
}

Status signal_event(Partition& caller, uint32_t connection_id, uint16_t flag) {
    State& s = state();
    Vp* w = nullptr;
    {
        IrqLockGuard g(s.lock);
        Port* port;
        if (Status st = resolve(s, caller, connection_id, r::PortType::event, port); st != Status::success)
            return st;
        if (flag >= port->flag_count)
            return Status::invalid_parameter;
        Vp* vp = target_vp(*port);
        if (!vp || !vp->synic.siefp_on())
            return Status::invalid_synic_state;
        uint32_t bit = uint32_t{port->base_flag} + flag;
        uint64_t gpa = (vp->synic.siefp & page_reg::gpa_mask) + port->sint * (event_flags_per_sint / 8) + bit / 64 * 8;
        uint64_t old;
        if (!atomic_or_guest64(*vp->partition, GuestPhysAddr(gpa), 1ull << (bit % 64), old))
            return Status::invalid_synic_state;
        // A flag already set: the guest has not seen the last signal yet; no second interrupt.
        if (!(old & (1ull << (bit % 64))))
            w = raise(*vp, port->sint);
    }
    wake(w);
    return Status::success;
}

void forget_partition(uint64_t id) {
    State& s = state();
    IrqLockGuard g(s.lock);
    for (auto& p : s.ports)
        if (p.used && p.partition == id)
            p.used = false;
    for (auto& c : s.connections)
        if (c.used && (c.partition == id || c.port_partition == id))
            c.used = false;
    s.pool.drop(id);
}

void exclusive(void (*fn)(void*), void* ctx) {
    State& s = state();
    IrqLockGuard g(s.lock);
    fn(ctx);
}

} // namespace synic
} // namespace hv::virt
