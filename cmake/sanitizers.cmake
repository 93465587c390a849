# ASan + UBSan for every target (make test-sanitize). Included before any target is
# defined, so the flags reach the stage libraries, the CLI and the tests alike.
option(LLM2NPU_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(LLM2NPU_SANITIZE)
  set(LLM2NPU_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${LLM2NPU_SANITIZER_FLAGS})
  add_link_options(${LLM2NPU_SANITIZER_FLAGS})
  # Tests with time bounds scale them (ASan + UBSan run code 2-5x slower).
  add_compile_definitions(LLM2NPU_SANITIZED=1)
  message(STATUS "llm2npu: ASan + UBSan enabled")
endif()
