#include "hv/cmdline.hpp"

#include "hv/lib/format.hpp"

namespace hv {
namespace {

struct Token {
    const char* key;
    size_t key_len;
    const char* value;   // nullptr when the option has no '='
    size_t value_len;
};

bool equals(const char* s, size_t n, const char* lit) {
    size_t i = 0;
    for (; i < n; i++)
        if (lit[i] != s[i])
            return false;
    return lit[i] == '\0';
}

bool parse_u32(const char* s, size_t n, uint32_t& out) {
    if (n == 0 || n > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + static_cast<uint32_t>(s[i] - '0');
    }
    out = v;
    return true;
}

CmdlineError fail(const char* what, const Token& t) {
    CmdlineError e;
    e.ok = false;
    int klen = static_cast<int>(t.key_len > 40 ? 40 : t.key_len);
    if (t.value) {
        int vlen = static_cast<int>(t.value_len > 40 ? 40 : t.value_len);
        format(e.message, sizeof e.message, "%s '%.*s=%.*s'", what, klen, t.key, vlen, t.value);
    } else {
        format(e.message, sizeof e.message, "%s '%.*s'", what, klen, t.key);
    }
    return e;
}

CmdlineError apply(const Token& t, Options& o) {
    auto val = [&](const char* lit) { return t.value && equals(t.value, t.value_len, lit); };
    if (equals(t.key, t.key_len, "backend")) {
        if (val("auto"))
            o.backend = BackendChoice::automatic;
        else if (val("svm"))
            o.backend = BackendChoice::svm;
        else if (val("vmx"))
            o.backend = BackendChoice::vmx;
        else if (val("none"))
            o.backend = BackendChoice::none;
        else
            return fail("bad value in option", t);
    } else if (equals(t.key, t.key_len, "on_stop")) {
        if (val("halt"))
            o.on_stop = StopAction::halt;
        else if (val("exit"))
            o.on_stop = StopAction::emulator_exit;
        else
            return fail("bad value in option", t);
    } else if (equals(t.key, t.key_len, "console")) {
        if (val("com1"))
            o.console = true;
        else if (val("none"))
            o.console = false;
        else
            return fail("bad value in option", t);
    } else if (equals(t.key, t.key_len, "cpus")) {
        if (!t.value || !parse_u32(t.value, t.value_len, o.max_cpus))
            return fail("bad value in option", t);
    } else if (equals(t.key, t.key_len, "min_memory")) {
        if (!t.value || !parse_u32(t.value, t.value_len, o.min_memory_mib))
            return fail("bad value in option", t);
    } else if (equals(t.key, t.key_len, "verbose")) {
        if (t.value)
            return fail("option takes no value", t);
        o.verbose = true;
    } else if (equals(t.key, t.key_len, "bench")) {
        if (t.value)
            return fail("option takes no value", t);
        o.bench = true;
    } else if (equals(t.key, t.key_len, "suite")) {
        if (!t.value || t.value_len == 0 || t.value_len >= sizeof o.suite)
            return fail("bad value in option", t);
        __builtin_memcpy(o.suite, t.value, t.value_len);
        o.suite[t.value_len] = '\0';
    } else {
        return fail("unknown option", t);
    }
    return {};
}

} // namespace

CmdlineError parse_cmdline(const char* s, Options& out) {
    if (!s)
        return {};
    bool first = true;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        const char* start = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        size_t len = static_cast<size_t>(s - start);
        // Some loaders put the image's own path first; it is not an option.
        if (first && start[0] == '/') {
            first = false;
            continue;
        }
        first = false;
        Token t{start, len, nullptr, 0};
        for (size_t i = 0; i < len; i++) {
            if (start[i] == '=') {
                t.key_len = i;
                t.value = start + i + 1;
                t.value_len = len - i - 1;
                break;
            }
        }
        if (auto e = apply(t, out); !e.ok)
            return e;
    }
    return {};
}

} // namespace hv
