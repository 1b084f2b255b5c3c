#include "tests/guest/mb1/hw.hpp"
#include "hv/lib/bytes.hpp"

namespace mb1 {
namespace {

using hv::bytes::load32;

constexpr uint16_t com1 = 0x3f8;
volatile uint32_t console;

void put(char c) {
    // Line status bit 5: transmitter holding register empty (16550 datasheet).
    for (int i = 0; i < 100000 && !(inb(com1 + 5) & 0x20); i++)
        cpu_relax();
    outb(com1, static_cast<uint8_t>(c));
}

bool checksum_ok(const uint8_t* p, uint32_t n) {
    uint8_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum = static_cast<uint8_t>(sum + p[i]);
    return sum == 0;
}

const uint8_t* find_rsdp(uint32_t from, uint32_t to) {
    for (uint32_t a = from; a + 20 <= to; a += 16) {
        const auto* p = phys<const uint8_t>(a);
        if (__builtin_memcmp(p, "RSD PTR ", 8) == 0 && checksum_ok(p, 20))
            return p;
    }
    return nullptr;
}

} // namespace

void lock_console() {
    while (__atomic_exchange_n(&console, 1u, __ATOMIC_ACQUIRE))
        cpu_relax();
}
void unlock_console() { __atomic_store_n(&console, 0u, __ATOMIC_RELEASE); }

void print(const char* s) {
    for (; *s; s++) {
        if (*s == '\n')
            put('\r');
        put(*s);
    }
}

void print_u(uint32_t v) {
    char b[12];
    int n = 0;
    do {
        b[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put(b[--n]);
}

void print_x(uint32_t v) {
    put('0');
    put('x');
    for (int s = 28; s >= 0; s -= 4)
        put("0123456789abcdef"[(v >> s) & 0xf]);
}

void exit(uint32_t code) {
    // QEMU's isa-debug-exit at 0xf4 (the run's -device option); the root partition emulates
    // the same port for its children.
    asm volatile("outl %0, %1" : : "a"(code), "Nd"(uint16_t{0xf4}));
    for (;;)
        asm volatile("cli; hlt");
}

void fw_cfg_read(uint16_t key, void* buf, uint32_t size) {
    outw(0x510, key);
    auto* b = static_cast<uint8_t*>(buf);
    for (uint32_t i = 0; i < size; i++)
        b[i] = inb(0x511);
}

uint32_t madt_apic_ids(uint32_t* ids, uint32_t max) {
    uint32_t ebda = uint32_t{*phys<volatile uint16_t>(0x40e)} << 4;   // BIOS data area
    const uint8_t* rsdp = ebda ? find_rsdp(ebda, ebda + 1024) : nullptr;
    if (!rsdp)
        rsdp = find_rsdp(0xe0000, 0x100000);
    if (!rsdp)
        return 0;
    // A 32-bit kernel follows the RSDT (ACPI 5.2.7): 4-byte entries after the 36-byte header.
    const auto* rsdt = phys<const uint8_t>(load32(rsdp + 16));
    uint32_t len = load32(rsdt + 4);
    if (__builtin_memcmp(rsdt, "RSDT", 4) != 0 || !checksum_ok(rsdt, len))
        return 0;
    for (uint32_t off = 36; off + 4 <= len; off += 4) {
        const auto* t = phys<const uint8_t>(load32(rsdt + off));
        uint32_t tlen = load32(t + 4);
        if (__builtin_memcmp(t, "APIC", 4) != 0 || !checksum_ok(t, tlen))
            continue;
        uint32_t n = 0;
        // 5.2.12: 44-byte header, then entries of {type, length}; type 0 is a processor
        // local APIC {uid, apic id, flags: bit 0 enabled}.
        for (uint32_t e = 44; e + 2 <= tlen && t[e + 1] >= 2; e += t[e + 1])
            if (t[e] == 0 && (load32(t + e + 4) & 1) && n < max)
                ids[n++] = t[e + 3];
        return n;
    }
    return 0;
}

} // namespace mb1
