#include "partitions/elf.hpp"
#include "hv/lib/bytes.hpp"

namespace partitions {
namespace {

using hv::bytes::load;   // the file gives no alignment guarantee

constexpr uint32_t pt_load = 1;
constexpr uint16_t et_exec = 2;
constexpr uint16_t em_386 = 3;
constexpr uint16_t em_x86_64 = 62;

bool add_overflows(uint64_t a, uint64_t b, uint64_t& sum) { return __builtin_add_overflow(a, b, &sum); }

ElfError read_segment(const uint8_t* ph, bool is64, size_t file_size, ElfSegment& s, bool& loadable) {
    uint32_t type = load<uint32_t>(ph);
    loadable = type == pt_load;
    if (!loadable)
        return ElfError::ok;
    if (is64) {
        s.flags = load<uint32_t>(ph + 4);
        s.offset = load<uint64_t>(ph + 8);
        s.vaddr = load<uint64_t>(ph + 16);
        s.paddr = load<uint64_t>(ph + 24);
        s.file_size = load<uint64_t>(ph + 32);
        s.mem_size = load<uint64_t>(ph + 40);
    } else {
        s.offset = load<uint32_t>(ph + 4);
        s.vaddr = load<uint32_t>(ph + 8);
        s.paddr = load<uint32_t>(ph + 12);
        s.file_size = load<uint32_t>(ph + 16);
        s.mem_size = load<uint32_t>(ph + 20);
        s.flags = load<uint32_t>(ph + 24);
    }
    uint64_t end;
    if (add_overflows(s.offset, s.file_size, end) || end > file_size)
        return ElfError::segment_outside_file;
    if (s.mem_size < s.file_size)
        return ElfError::memsz_smaller_than_filesz;
    uint64_t limit = is64 ? ~0ull : 0xffffffffull;
    if (add_overflows(s.vaddr, s.mem_size, end) || end > limit || add_overflows(s.paddr, s.mem_size, end) ||
        end > limit)
        return ElfError::segment_overflow;
    return ElfError::ok;
}

} // namespace

const char* describe(ElfError e) {
    switch (e) {
    case ElfError::ok: return "ok";
    case ElfError::too_small: return "file smaller than its ELF header";
    case ElfError::bad_magic: return "not an ELF file (bad magic)";
    case ElfError::unsupported_class: return "neither ELF32 nor ELF64";
    case ElfError::not_little_endian: return "not little-endian";
    case ElfError::not_executable: return "not an executable (ET_EXEC)";
    case ElfError::wrong_machine: return "not an x86 image";
    case ElfError::bad_program_headers: return "program header table outside the file or malformed";
    case ElfError::too_many_segments: return "more loadable segments than supported";
    case ElfError::segment_outside_file: return "a segment's file range lies outside the file";
    case ElfError::segment_overflow: return "a segment's address range overflows";
    case ElfError::memsz_smaller_than_filesz: return "a segment's memory size is smaller than its file size";
    case ElfError::no_loadable_segment: return "no loadable segment";
    case ElfError::entry_outside_segments: return "the entry point lies outside every executable segment";
    case ElfError::overlapping_segments: return "loadable segments overlap";
    }
    return "unknown ELF error";
}

ElfError parse_elf(const uint8_t* data, size_t size, ElfImage& out) {
    out = ElfImage{};
    if (!data || size < 52)
        return ElfError::too_small;
    if (data[0] != 0x7f || data[1] != 'E' || data[2] != 'L' || data[3] != 'F')
        return ElfError::bad_magic;
    if (data[4] != 1 && data[4] != 2)
        return ElfError::unsupported_class;
    out.is64 = data[4] == 2;
    if (data[5] != 1)
        return ElfError::not_little_endian;
    if (out.is64 && size < 64)
        return ElfError::too_small;
    if (load<uint16_t>(data + 16) != et_exec)
        return ElfError::not_executable;
    uint16_t machine = load<uint16_t>(data + 18);
    if (machine != (out.is64 ? em_x86_64 : em_386))
        return ElfError::wrong_machine;

    uint64_t phoff;
    uint16_t phentsize, phnum;
    if (out.is64) {
        out.entry = load<uint64_t>(data + 24);
        phoff = load<uint64_t>(data + 32);
        phentsize = load<uint16_t>(data + 54);
        phnum = load<uint16_t>(data + 56);
    } else {
        out.entry = load<uint32_t>(data + 24);
        phoff = load<uint32_t>(data + 28);
        phentsize = load<uint16_t>(data + 42);
        phnum = load<uint16_t>(data + 44);
    }
    uint64_t table_end;
    if (phentsize < (out.is64 ? 56 : 32) || phnum == 0 ||
        add_overflows(phoff, uint64_t{phentsize} * phnum, table_end) || table_end > size)
        return ElfError::bad_program_headers;

    out.lowest_vaddr = out.lowest_paddr = ~0ull;
    bool entry_ok = false;
    for (uint16_t i = 0; i < phnum; i++) {
        ElfSegment s{};
        bool loadable = false;
        if (auto e = read_segment(data + phoff + uint64_t{i} * phentsize, out.is64, size, s, loadable);
            e != ElfError::ok)
            return e;
        if (!loadable || s.mem_size == 0)
            continue;
        if (out.segment_count == kMaxElfSegments)
            return ElfError::too_many_segments;
        for (size_t j = 0; j < out.segment_count; j++) {
            const auto& o = out.segments[j];
            if (s.paddr < o.paddr + o.mem_size && o.paddr < s.paddr + s.mem_size)
                return ElfError::overlapping_segments;
            if (s.vaddr < o.vaddr + o.mem_size && o.vaddr < s.vaddr + s.mem_size)
                return ElfError::overlapping_segments;
        }
        out.segments[out.segment_count++] = s;
        if (s.vaddr < out.lowest_vaddr)
            out.lowest_vaddr = s.vaddr;
        if (s.vaddr + s.mem_size > out.highest_vaddr)
            out.highest_vaddr = s.vaddr + s.mem_size;
        if (s.paddr < out.lowest_paddr)
            out.lowest_paddr = s.paddr;
        if (s.paddr + s.mem_size > out.highest_paddr)
            out.highest_paddr = s.paddr + s.mem_size;
        if ((s.flags & 1) && out.entry >= s.vaddr && out.entry < s.vaddr + s.mem_size)
            entry_ok = true;
    }
    if (out.segment_count == 0)
        return ElfError::no_loadable_segment;
    if (!entry_ok)
        return ElfError::entry_outside_segments;
    return ElfError::ok;
}

} // namespace partitions
