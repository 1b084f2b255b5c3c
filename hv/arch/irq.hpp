// Masking maskable interrupts for a scope on this processor (RFLAGS.IF, SDM vol 3 6.8.1).
#pragma once
#include <stdint.h>

namespace hv {

class IrqSave {
  public:
    IrqSave() { asm volatile("pushfq; popq %0; cli" : "=r"(flags_) : : "memory"); }
    ~IrqSave() {
        if (flags_ & (1u << 9))
            asm volatile("sti" ::: "memory");
    }
    IrqSave(const IrqSave&) = delete;
    IrqSave& operator=(const IrqSave&) = delete;

  private:
    uint64_t flags_;
};

} // namespace hv
