# AMD-V backend sources linked into hv.elf (included by the top-level CMakeLists.txt).
# The pure files (bitmaps, checks, decode, vcpu, xstate_policy) are also built for the host by
# tests/backend/svm.
set(SVM_IMAGE_SOURCES
  ${PROJECT_SOURCE_DIR}/svm/bitmaps.cpp
  ${PROJECT_SOURCE_DIR}/svm/checks.cpp
  ${PROJECT_SOURCE_DIR}/svm/decode.cpp
  ${PROJECT_SOURCE_DIR}/svm/entry.S
  ${PROJECT_SOURCE_DIR}/svm/features.cpp
  ${PROJECT_SOURCE_DIR}/svm/smoke.cpp
  ${PROJECT_SOURCE_DIR}/svm/smoke_env.cpp
  ${PROJECT_SOURCE_DIR}/svm/smoke_guest.S
  ${PROJECT_SOURCE_DIR}/svm/svm.cpp
  ${PROJECT_SOURCE_DIR}/svm/vcpu.cpp
  ${PROJECT_SOURCE_DIR}/svm/vcpu_run.cpp
  ${PROJECT_SOURCE_DIR}/svm/xstate.cpp
  ${PROJECT_SOURCE_DIR}/svm/xstate_policy.cpp
)
