// A ticket lock: FIFO fairness between processors, so no processor starves on a contended lock.
// The guarded-data wrapper makes the data reachable only while the lock is held.
#pragma once
#include <stdint.h>

namespace hv {

class Spinlock {
public:
    void lock() {
        uint32_t ticket = __atomic_fetch_add(&next_, 1, __ATOMIC_RELAXED);
        while (__atomic_load_n(&serving_, __ATOMIC_ACQUIRE) != ticket)
            asm volatile("pause");
    }
    void unlock() { __atomic_store_n(&serving_, serving_ + 1, __ATOMIC_RELEASE); }
    [[nodiscard]] bool try_lock() {
        uint32_t s = __atomic_load_n(&serving_, __ATOMIC_RELAXED);
        uint32_t expected = s;
        return __atomic_compare_exchange_n(&next_, &expected, s + 1, false, __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED);
    }

private:
    uint32_t next_ = 0;
    uint32_t serving_ = 0;
};

// Holds a lock and masks interrupts for the scope, so an interrupt handler on the same
// processor cannot deadlock against the interrupted holder.
class IrqLockGuard {
public:
    explicit IrqLockGuard(Spinlock& l) : lock_(l) {
        asm volatile("pushfq; popq %0; cli" : "=r"(flags_) : : "memory");
        lock_.lock();
    }
    ~IrqLockGuard() {
        lock_.unlock();
        if (flags_ & (1u << 9))
            asm volatile("sti" ::: "memory");
    }
    IrqLockGuard(const IrqLockGuard&) = delete;
    IrqLockGuard& operator=(const IrqLockGuard&) = delete;

private:
    Spinlock& lock_;
    uint64_t flags_;
};

template <class T> class Guarded {
public:
    template <class F> auto with(F&& f) {
        IrqLockGuard g(lock_);
        return f(value_);
    }

private:
    Spinlock lock_;
    T value_{};
};

} // namespace hv
