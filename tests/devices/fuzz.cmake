# The libFuzzer target over the MMIO emulator (tests/fuzz/x86_emulate_fuzz.cpp), built into
# build/fuzz/x86_emulate_fuzz. The project compiler is GCC, which has no libFuzzer, so clang-14
# builds it through custom commands, one object per source with its dependency file. Zydis is
# compiled with the fuzzer's coverage instrumentation too, so its decoder paths guide the search.
# Run: build/fuzz/x86_emulate_fuzz -runs=N (docs/instruction-emulation.md, "Fuzzing").
find_program(HV_CLANG_14 clang-14)
find_program(HV_CLANGXX_14 clang++-14)
if(NOT HV_CLANG_14 OR NOT HV_CLANGXX_14)
  message(STATUS "clang-14 not found: no x86_emulate_fuzz (tools/setup installs it)")
  return()
endif()

set(fuzz_out ${CMAKE_BINARY_DIR}/fuzz/x86_emulate_fuzz)
set(fuzz_obj_dir ${CMAKE_BINARY_DIR}/fuzz/x86_emulate_fuzz.objs)
file(MAKE_DIRECTORY ${fuzz_obj_dir})
set(fuzz_sanitizers -fsanitize=address,undefined -fno-sanitize-recover=all)
set(fuzz_flags -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link ${fuzz_sanitizers}
  -isystem ${ZYDIS_SOURCE_DIR}/include)
if(NOT ZYCORE_INCLUDE_DIR STREQUAL "/usr/include")   # -isystem /usr/include breaks libstdc++
  list(APPEND fuzz_flags -isystem ${ZYCORE_INCLUDE_DIR})
endif()
foreach(d ${ZYDIS_DEFINITIONS})
  list(APPEND fuzz_flags -D${d})
endforeach()

set(fuzz_objects)
foreach(src ${ZYDIS_DECODER_SOURCES}
    ${PROJECT_SOURCE_DIR}/partitions/devices/decode_zydis.cpp
    ${PROJECT_SOURCE_DIR}/partitions/devices/x86_emulate.cpp
    ${PROJECT_SOURCE_DIR}/tests/fuzz/x86_emulate_fuzz.cpp)
  get_filename_component(name ${src} NAME)
  set(obj ${fuzz_obj_dir}/${name}.o)
  if(src MATCHES "\\.c$")
    set(compile ${HV_CLANG_14} -std=c11 -w -DNDEBUG -I${ZYDIS_SOURCE_DIR}/src)
  else()
    set(compile ${HV_CLANGXX_14} -std=c++20 -fno-exceptions -fno-rtti -Wall -Wextra
      -I${PROJECT_SOURCE_DIR})
  endif()
  add_custom_command(OUTPUT ${obj}
    COMMAND ${compile} ${fuzz_flags} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPENDS ${src} DEPFILE ${obj}.d
    COMMENT "Building fuzz object ${name} (clang-14)" VERBATIM)
  list(APPEND fuzz_objects ${obj})
endforeach()

add_custom_command(OUTPUT ${fuzz_out}
  COMMAND ${HV_CLANGXX_14} -fsanitize=fuzzer ${fuzz_sanitizers} ${fuzz_objects} -o ${fuzz_out}
  DEPENDS ${fuzz_objects}
  COMMENT "Linking fuzz/x86_emulate_fuzz (clang-14, libFuzzer)" VERBATIM)
add_custom_target(x86_emulate_fuzz ALL DEPENDS ${fuzz_out})

# tools/test: a bounded run (the 10-million-input run is recorded in docs/instruction-emulation.md);
# tools/fuzz --target x86_emulate runs it for as long as asked.
add_test(NAME fuzz.x86_emulate COMMAND ${PROJECT_SOURCE_DIR}/tools/fuzz --target x86_emulate --runs 200000)
set_tests_properties(fuzz.x86_emulate PROPERTIES ENVIRONMENT HV_BUILD_DIR=${CMAKE_BINARY_DIR} TIMEOUT 600)
