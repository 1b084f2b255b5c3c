#include "harness.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/wait.h>

#ifndef HV_SOURCE_DIR
#error "HV_SOURCE_DIR must name the project root"
#endif
#ifndef HV_BUILD_DIR
#error "HV_BUILD_DIR must name the build directory"
#endif

namespace system_test {

bool Run::has(const std::string& needle) const { return time_of(needle) >= 0; }

double Run::time_of(const std::string& needle) const {
    for (const auto& l : lines)
        if (l.text.find(needle) != std::string::npos)
            return l.seconds;
    return -1;
}

std::string Run::text() const {
    std::string s;
    for (const auto& l : lines)
        s += l.text + "\n";
    return s;
}

int Run::ktap_planned() const {
    for (const auto& l : lines)
        if (l.text.rfind("1..", 0) == 0)
            return std::atoi(l.text.c_str() + 3);
    return -1;
}

int Run::ktap_count(bool ok) const {
    int n = 0;
    for (const auto& l : lines)
        n += l.text.rfind(ok ? "ok " : "not ok ", 0) == 0;
    return n;
}

static std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'')
            q += "'\\''";
        else
            q += c;
    }
    return q + "'";
}

Run boot(const std::vector<std::string>& args) {
    std::string cmd = "HV_BUILD_DIR=" + quote(HV_BUILD_DIR) + " " + quote(std::string(HV_SOURCE_DIR) + "/tools/run") +
                      " --no-build";
    for (const auto& a : args)
        cmd += " " + quote(a);
    cmd += " 2>&1";
    Run run;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        return run;
    using clock = std::chrono::steady_clock;
    auto start = clock::now();
    char buf[4096];
    while (fgets(buf, sizeof buf, p)) {
        std::string line(buf);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
            line.pop_back();
        auto now = clock::now();
        if (line.rfind("run: emulator started", 0) == 0)
            start = now;
        run.lines.push_back({std::chrono::duration<double>(now - start).count(), line});
    }
    int st = pclose(p);
    run.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return run;
}

void record_boot_time(const std::string& name, double seconds) {
    std::ofstream out(std::string(HV_BUILD_DIR) + "/boot-times.json", std::ios::app);
    out << "{\"name\":\"" << name << "\",\"value\":" << seconds << ",\"unit\":\"s\"}\n";
}

} // namespace system_test
