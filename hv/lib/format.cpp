#include "hv/lib/format.hpp"

#include <stdint.h>

namespace hv {
namespace {

struct Sink {
    char* buf;
    size_t size;
    size_t len = 0;
    void put(char c) {
        if (len + 1 < size)
            buf[len] = c;
        len++;
    }
};

void put_number(Sink& s, uint64_t v, unsigned base, bool upper, bool negative, int width, bool zero,
                bool left) {
    char digits[24];
    int n = 0;
    const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        digits[n++] = set[v % base];
        v /= base;
    } while (v);
    int len = n + (negative ? 1 : 0);
    if (!left && !zero)
        for (; width > len; width--)
            s.put(' ');
    if (negative)
        s.put('-');
    if (!left && zero)
        for (; width > len; width--)
            s.put('0');
    while (n)
        s.put(digits[--n]);
    for (; left && width > len; width--)
        s.put(' ');
}

} // namespace

size_t vformat(char* buf, size_t size, const char* fmt, va_list ap) {
    Sink s{buf, size};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            s.put(*fmt);
            continue;
        }
        fmt++;
        bool left = false, zero = false;
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                zero = true;
            else
                break;
        }
        int width = 0;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        int precision = -1;   // only %s uses it: at most that many characters
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            if (*fmt == '*') {
                precision = va_arg(ap, int);
                fmt++;
            }
            while (*fmt >= '0' && *fmt <= '9')
                precision = precision * 10 + (*fmt++ - '0');
        }
        int longs = 0;
        while (*fmt == 'l' || *fmt == 'z') {
            longs += *fmt == 'z' ? 2 : 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
            put_number(s, mag, 10, false, v < 0, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            put_number(s, v, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, zero, left);
            break;
        }
        case 'p':
            s.put('0');
            s.put('x');
            put_number(s, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), 16, false, false, 16, true,
                       false);
            break;
        case 'c':
            s.put(static_cast<char>(va_arg(ap, int)));
            break;
        case 's': {
            const char* str = va_arg(ap, const char*);
            if (!str)
                str = "(null)";
            int n = 0;
            while ((precision < 0 || n < precision) && str[n])
                n++;
            if (!left)
                for (; width > n; width--)
                    s.put(' ');
            for (int i = 0; i < n; i++)
                s.put(str[i]);
            for (; left && width > n; width--)
                s.put(' ');
            break;
        }
        case '%':
            s.put('%');
            break;
        case '\0':
            fmt--;
            break;
        default:
            s.put('%');
            s.put(*fmt);
        }
    }
    if (size)
        buf[s.len < size ? s.len : size - 1] = '\0';
    return s.len;
}

size_t format(char* buf, size_t size, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

} // namespace hv
