// The module command line that makes a module a child image (docs/root-partition.md):
//   child name=NAME smp=N mem=MiB timeout=S testdev=0|1 shutdown=S args="..."
// Words are separated by spaces; `args` runs to its closing quote (no escapes) and becomes the
// child's own command line; GRUB's rendering of that word when it holds spaces, `"args=..."`,
// is accepted too. Unknown keys are refused, so a typo never passes silently.
#include "partitions/root/child.hpp"

namespace root {
namespace {

bool starts(const char* s, const char* prefix) {
    for (; *prefix; s++, prefix++)
        if (*s != *prefix)
            return false;
    return true;
}

bool number(const char*& p, uint32_t& out) {
    if (*p < '0' || *p > '9')
        return false;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + static_cast<uint64_t>(*p - '0')) > 0xffffffff)
            return false;
    out = static_cast<uint32_t>(v);
    return true;
}

// Copies up to the end of the word (or the closing quote when quoted).
bool text(const char*& p, char* out, uint32_t size) {
    bool quoted = *p == '"';
    p += quoted;
    uint32_t n = 0;
    for (; *p && (quoted ? *p != '"' : *p != ' '); p++) {
        if (n + 1 >= size)
            return false;
        out[n++] = *p;
    }
    out[n] = 0;
    if (quoted && *p != '"')
        return false;
    p += quoted;
    return true;
}

// GRUB's `"args=..."`: the value runs from after `=` to the closing quote.
bool grub_quoted(const char*& p, char* out, uint32_t size) {
    uint32_t n = 0;
    for (p += 6; *p && *p != '"'; p++) {
        if (n + 1 >= size)
            return false;
        out[n++] = *p;
    }
    out[n] = 0;
    return *p == '"' && *++p != '"';
}

} // namespace

bool parse_child_config(const char* s, ChildConfig& c, const char*& error) {
    c = ChildConfig{};
    error = nullptr;
    if (!starts(s, "child") || (s[5] != 0 && s[5] != ' ')) {
        error = "not a child (the command line must start with `child`)";
        return false;
    }
    const char* p = s + 5;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        bool ok;
        if (starts(p, "name="))
            ok = text(p += 5, c.name, sizeof c.name) && c.name[0];
        else if (starts(p, "smp="))
            ok = number(p += 4, c.smp) && c.smp >= 1 && c.smp <= max_child_vps;
        else if (starts(p, "mem="))
            ok = number(p += 4, c.mem_mib) && c.mem_mib >= 2 && c.mem_mib <= 3072;
        else if (starts(p, "timeout="))
            ok = number(p += 8, c.timeout_s) && c.timeout_s >= 1 && c.timeout_s <= 86400;
        else if (starts(p, "testdev=")) {
            uint32_t on = 0;
            ok = number(p += 8, on) && on <= 1;
            c.testdev = on == 1;
        } else if (starts(p, "shutdown="))
            ok = number(p += 9, c.shutdown_s) && c.shutdown_s >= 1 && c.shutdown_s <= 86400;
        else if (starts(p, "args="))
            ok = text(p += 5, c.args, sizeof c.args);
        else if (starts(p, "\"args="))   // GRUB quotes a whole word that holds spaces
            ok = grub_quoted(p, c.args, sizeof c.args);
        else
            ok = false;
        if (!ok || (*p && *p != ' ')) {
            error = "bad or unknown key (name=NAME smp=1-16 mem=2-3072 timeout=1-86400 testdev=0|1 shutdown=1-86400 args=\"...\")";
            return false;
        }
    }
    return true;
}

} // namespace root
