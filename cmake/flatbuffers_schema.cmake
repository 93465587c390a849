# Flatbuffers schemas of the stages: flatc (Debian's flatbuffers-compiler) generates
# <name>_generated.h into the build tree, and the stage library gets the include path, the
# flatbuffers headers and a define with the schema's path (tests decode written files
# generically with flatc against the same schema).
# Included by the top-level CMakeLists.txt after the stage libraries exist.

find_package(FlatBuffers CONFIG QUIET)
find_program(FLATC_EXECUTABLE NAMES flatc REQUIRED DOC "flatc (Debian package flatbuffers-compiler)")

# Only the flatbuffers headers are needed; prefer the package's target when it exists so
# include paths come from Debian's config.
if(TARGET flatbuffers::flatbuffers)
  set(L2N_FLATBUFFERS_LIB flatbuffers::flatbuffers)
elseif(TARGET flatbuffers::flatbuffers_shared)
  set(L2N_FLATBUFFERS_LIB flatbuffers::flatbuffers_shared)
else()
  set(L2N_FLATBUFFERS_LIB "")
endif()

# l2n_flatbuffers_schema(STAGE SCHEMA DEFINE): generates from src/<stage>/schema/<SCHEMA>.fbs
# and defines DEFINE="<schema path>" on the stage (PUBLIC: the generated header is public
# so tests and fuzz targets can build hostile payloads).
function(l2n_flatbuffers_schema stage schema define)
  set(source "${CMAKE_SOURCE_DIR}/src/${stage}/schema/${schema}.fbs")
  set(out_dir "${CMAKE_BINARY_DIR}/generated/${stage}")
  set(header "${out_dir}/${schema}_generated.h")
  add_custom_command(
    OUTPUT "${header}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${out_dir}"
    COMMAND "${FLATC_EXECUTABLE}" --cpp --scoped-enums -o "${out_dir}" "${source}"
    DEPENDS "${source}"
    COMMENT "flatc: generating ${schema}_generated.h"
    VERBATIM)
  add_custom_target(l2n_${stage}_schema DEPENDS "${header}")
  if(NOT TARGET l2n_${stage})
    return()
  endif()
  get_target_property(type l2n_${stage} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(l2n_${stage} INTERFACE "${out_dir}")
    return()
  endif()
  add_dependencies(l2n_${stage} l2n_${stage}_schema)
  target_include_directories(l2n_${stage} PUBLIC "${out_dir}")
  if(L2N_FLATBUFFERS_LIB)
    target_link_libraries(l2n_${stage} PUBLIC ${L2N_FLATBUFFERS_LIB})
  endif()
  target_compile_definitions(l2n_${stage} PUBLIC LLM2NPU_FLATC="${FLATC_EXECUTABLE}" ${define}="${source}")
endfunction()

# TOSA 1.0 (src/tosa/schema/tosa.fbs, written from tosa-1.0-flatbuffer-layout.md).
l2n_flatbuffers_schema(tosa tosa LLM2NPU_TOSA_SCHEMA)
# The program file payload; zlib gives the header's CRC-32.
l2n_flatbuffers_schema(program program LLM2NPU_PROGRAM_SCHEMA)
find_package(ZLIB REQUIRED)  # Debian package zlib1g-dev
if(TARGET l2n_program)
  target_link_libraries(l2n_program PRIVATE ZLIB::ZLIB)
endif()
