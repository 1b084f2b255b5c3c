// KTAP version 1 reporting (the format of Linux's kselftest and KUnit) for every in-emulator test:
// guest suites running as partitions and the hypervisor's built-in suites.
//   KTAP version 1
//   1..N
//   ok 1 name            not ok 2 name            ok 3 name # SKIP reason
// Header-only and portable: the sink decides where lines go (a serial port, the hypervisor
// console, a string in a host unit test).
#pragma once
#include <stdarg.h>
#include <stddef.h>

#include "hv/lib/format.hpp"

namespace ktap {

template <class Sink> class Reporter {
public:
    explicit Reporter(Sink& sink) : sink_(sink) {}

    void begin(unsigned planned) {
        planned_ = planned;
        line("KTAP version 1\n1..%u\n", planned);
    }

    // Records one result; returns `pass` so callers can chain on it.
    bool check(bool pass, const char* name) {
        number_++;
        (pass ? passed_ : failed_)++;
        line("%sok %u %s\n", pass ? "" : "not ", number_, name);
        return pass;
    }

    void skip(const char* name, const char* reason) {
        number_++;
        skipped_++;
        line("ok %u %s # SKIP %s\n", number_, name, reason);
    }

    [[gnu::format(printf, 2, 3)]] void diag(const char* fmt, ...) {
        char buf[200];
        va_list ap;
        va_start(ap, fmt);
        hv::vformat(buf, sizeof buf, fmt, ap);
        va_end(ap);
        line("# %s\n", buf);
    }

    // 0 when every planned test ran and none failed. A plan that does not match what ran is
    // itself a failure: a suite that silently stopped early must not look green.
    int finish() {
        if (number_ != planned_) {
            line("# plan mismatch: planned %u, ran %u\n", planned_, number_);
            return 1;
        }
        line("# totals: pass:%u fail:%u skip:%u\n", passed_, failed_, skipped_);
        return failed_ == 0 ? 0 : 1;
    }

    unsigned failed() const { return failed_; }

private:
    [[gnu::format(printf, 2, 3)]] void line(const char* fmt, ...) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        size_t n = hv::vformat(buf, sizeof buf, fmt, ap);
        va_end(ap);
        sink_.write(buf, n < sizeof buf ? n : sizeof buf - 1);
    }

    Sink& sink_;
    unsigned planned_ = 0, number_ = 0, passed_ = 0, failed_ = 0, skipped_ = 0;
};

} // namespace ktap
