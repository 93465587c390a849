# TOSA 1.0 flatbuffers: generate tosa_generated.h from our schema (src/tosa/schema/tosa.fbs)
# with Debian's flatc into the build tree and attach it to the l2n_tosa stage library.
# Included by the top-level CMakeLists.txt after the stage libraries exist.

find_package(FlatBuffers CONFIG QUIET)
find_program(FLATC_EXECUTABLE NAMES flatc REQUIRED DOC "flatc (Debian package flatbuffers-compiler)")

set(TOSA_SCHEMA "${CMAKE_SOURCE_DIR}/src/tosa/schema/tosa.fbs")
set(TOSA_GENERATED_DIR "${CMAKE_BINARY_DIR}/generated/tosa")
set(TOSA_GENERATED_HEADER "${TOSA_GENERATED_DIR}/tosa_generated.h")

add_custom_command(
  OUTPUT "${TOSA_GENERATED_HEADER}"
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${TOSA_GENERATED_DIR}"
  COMMAND "${FLATC_EXECUTABLE}" --cpp --scoped-enums -o "${TOSA_GENERATED_DIR}" "${TOSA_SCHEMA}"
  DEPENDS "${TOSA_SCHEMA}"
  COMMENT "flatc: generating TOSA 1.0 flatbuffers code"
  VERBATIM)
add_custom_target(l2n_tosa_schema DEPENDS "${TOSA_GENERATED_HEADER}")

# The flatbuffers headers are enough (no generated code uses the runtime library); prefer the
# package's target when it exists so include paths come from Debian's config.
if(TARGET flatbuffers::flatbuffers)
  set(TOSA_FLATBUFFERS_LIB flatbuffers::flatbuffers)
elseif(TARGET flatbuffers::flatbuffers_shared)
  set(TOSA_FLATBUFFERS_LIB flatbuffers::flatbuffers_shared)
else()
  set(TOSA_FLATBUFFERS_LIB "")
endif()

if(TARGET l2n_tosa)
  get_target_property(_tosa_type l2n_tosa TYPE)
  if(_tosa_type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(l2n_tosa INTERFACE "${TOSA_GENERATED_DIR}")
  else()
    add_dependencies(l2n_tosa l2n_tosa_schema)
    target_include_directories(l2n_tosa PUBLIC "${TOSA_GENERATED_DIR}")
    if(TOSA_FLATBUFFERS_LIB)
      target_link_libraries(l2n_tosa PUBLIC ${TOSA_FLATBUFFERS_LIB})
    endif()
    # Tests decode written files generically with flatc against the same schema.
    target_compile_definitions(l2n_tosa PUBLIC
      LLM2NPU_FLATC="${FLATC_EXECUTABLE}" LLM2NPU_TOSA_SCHEMA="${TOSA_SCHEMA}")
  endif()
endif()
