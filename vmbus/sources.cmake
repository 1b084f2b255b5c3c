# The portable VMBus core (docs/vmbus.md): built into the host unit tests (tests/unit), the
# fuzzers (tests/fuzz) and a freestanding partition image that proves it links with nothing but
# the partition runtime. Paths relative to the project root.
set(VMBUS_PORTABLE_SOURCES
  vmbus/ring.cpp
  vmbus/messages.cpp
  vmbus/gpadl.cpp
  vmbus/server.cpp
  vmbus/client.cpp
  vmbus/ic.cpp
  vmbus/storvsc.cpp
  vmbus/storvsc_client.cpp
)
