# Zydis 4.0, the project's one instruction decoder, built from Debian's source package, which
# tools/fetch-zydis (run by tools/setup) unpacks into .cache/deps/zydis. Debian ships Zydis only
# as a shared library, and partition images cannot load one: its decoder is compiled here twice
# from the same sources with the same configuration.
#   zydis_freestanding  static library for partition images (freestanding, kernel code model)
#   zydis_host          static library for host tests, with ASan/UBSan like the code under test
# Only the decoder is built (HARNESS.md: these nine files need nothing outside themselves; the
# formatter would need more of Zycore). Zycore's headers come from libzycore-dev.
#
# ZYAN_NO_LIBC makes Zycore/LibC.h define ZYAN_MEMCPY/ZYAN_MEMSET as its own volatile byte loops
# and the integer types from compiler built-ins, so Zydis names no libc function; the compiler may
# still emit memcpy/memset for struct copies, which partition images get from hv/lib/string.cpp.
set(ZYDIS_SOURCE_DIR ${PROJECT_SOURCE_DIR}/.cache/deps/zydis)
if(NOT EXISTS ${ZYDIS_SOURCE_DIR}/.unpacked-4.0.0)
  message(FATAL_ERROR "Zydis source missing in ${ZYDIS_SOURCE_DIR}: run tools/setup "
    "(it calls tools/fetch-zydis, which downloads Debian's zydis source package)")
endif()
find_path(ZYCORE_INCLUDE_DIR Zycore/Zycore.h)
if(NOT ZYCORE_INCLUDE_DIR)
  message(FATAL_ERROR "Zycore headers missing: run tools/setup (installs libzycore-dev)")
endif()

set(ZYDIS_DECODER_SOURCES)
foreach(f Decoder DecoderData SharedData Utils Zydis MetaInfo Mnemonic Register Segment)
  list(APPEND ZYDIS_DECODER_SOURCES ${ZYDIS_SOURCE_DIR}/src/${f}.c)
endforeach()

# Consumers see the same configuration (PUBLIC): Zydis.h then declares no formatter or encoder.
set(ZYDIS_DEFINITIONS ZYAN_NO_LIBC ZYDIS_STATIC_BUILD ZYCORE_STATIC_BUILD
  ZYDIS_DISABLE_ENCODER ZYDIS_DISABLE_FORMATTER)

function(zydis_library target)
  add_library(${target} STATIC ${ZYDIS_DECODER_SOURCES})
  set_target_properties(${target} PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  # NDEBUG: Zycore's ZYAN_UNREACHABLE becomes __builtin_unreachable(), not an endless loop.
  target_compile_definitions(${target} PUBLIC ${ZYDIS_DEFINITIONS} PRIVATE NDEBUG)
  # SYSTEM: third-party headers must not trip the project's -Werror warning set in our code.
  target_include_directories(${target} SYSTEM PUBLIC ${ZYDIS_SOURCE_DIR}/include ${ZYCORE_INCLUDE_DIR})
  target_include_directories(${target} PRIVATE ${ZYDIS_SOURCE_DIR}/src)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:C>:-O2 -g -w>)
endfunction()

zydis_library(zydis_freestanding)
target_compile_options(zydis_freestanding PRIVATE $<$<COMPILE_LANGUAGE:C>:-ffreestanding
  -fno-stack-protector -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only -mcmodel=kernel
  -fno-asynchronous-unwind-tables>)

zydis_library(zydis_host)
target_compile_options(zydis_host PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer)
target_link_options(zydis_host PUBLIC -fsanitize=address,undefined)
set_target_properties(zydis_host PROPERTIES EXCLUDE_FROM_ALL ON)
