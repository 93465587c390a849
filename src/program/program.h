// The program file (.l2n): everything the host runtime (and a device) needs to run one
// exported model, in one self-checking file.
//
// Contract:
//  * A Program is plain data. Its methods ("forward": the full window of max_seq_length
//    tokens; "decode": one KV-cache step) are lists of steps run in order over a map of
//    named values: a CPU step runs a graph::Graph whose Input nodes are named after the
//    values they read and whose outputs name the values they produce; a delegate step runs
//    one TOSA 1.0 flatbuffer whose block inputs/outputs name the values it reads and writes.
//  * encode_program() is deterministic: the same Program gives the same bytes.
//  * The file is a fixed header (magic "L2NPROG\0", format version, payload size, CRC-32 of
//    the payload) followed by the payload (a flatbuffer, src/program/schema/program.fbs).
//    decode_program() refuses with l2n::Error, naming `what`: a wrong magic, a format
//    version newer than kFormatVersion (say which version is needed), a size that does not
//    match, a checksum mismatch (corrupted or truncated file), a payload that fails the
//    flatbuffers verifier, or any field that does not make sense (unknown op/dtype,
//    a graph that does not rebuild, a step index out of range). It never reads outside
//    the buffer and checks sizes before allocating.
//  * write_program_file() writes atomically (temporary file in the same directory, fsync,
//    rename): an interrupted write leaves the old file or none.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "model/model.h"

namespace l2n::program {

inline constexpr uint32_t kFormatVersion = 1;

// A tokenizer carried inside the program: the bytes of the file it was loaded from (with
// that file's name, which selects the reader), or the vocabulary embedded in a GGUF.
// (src/program/tokenizer_blob.h makes one and rebuilds the tokenizer from it.)
struct TokenizerBlob {
  std::string file_name;              // e.g. "tokenizer.json", "tok512.bin"; empty: embedded vocab
  std::vector<uint8_t> bytes;         // the file's bytes
  model::EmbeddedVocab embedded_vocab;  // used when file_name is empty
  // The files a tokenizer.json reader also consults beside it (tokenizer_config.json,
  // special_tokens_map.json: BOS/EOS, add_bos), name -> content; empty for other formats.
  std::map<std::string, std::string, std::less<>> companion_files;
};

struct Delegate {
  std::string name;                   // "delegate_0", ...
  std::string target;                 // the TOSA spec / accelerator it was lowered for
  std::vector<uint8_t> tosa;          // TOSA 1.0 flatbuffer (file identifier "TOSA")
  std::vector<uint8_t> compiled;      // Vela output (.tflite with the command stream); empty if not compiled
  std::string compiler_log;           // Vela's summary (cycles, memory); empty if not compiled
};

struct ValueSpec {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  bool operator==(const ValueSpec&) const = default;
};

struct Step {
  enum class Kind : uint8_t { Cpu = 0, Delegate = 1 };
  Kind kind = Kind::Cpu;
  uint32_t index = 0;  // into Method::cpu_graphs (Cpu) or Program::delegates (Delegate)
  bool operator==(const Step&) const = default;
};

struct Method {
  std::string name;                   // "forward" or "decode"
  std::vector<ValueSpec> inputs;      // what the caller feeds (tokens, input_pos, caches)
  std::vector<ValueSpec> outputs;     // what the caller reads (logits, updated caches)
  std::vector<Step> steps;
  std::vector<graph::Graph> cpu_graphs;
};

struct Program {
  // decode_program() sets the version of the file it read; encode_program() always writes
  // kFormatVersion (the only layout it knows), whatever this says.
  uint32_t format_version = kFormatVersion;
  std::string producer;               // "llm2npu <version>"
  std::string config_yaml;            // the resolved export configuration
  model::ModelConfig model_config;
  TokenizerBlob tokenizer;
  std::string partition_report_json;  // partition::PartitionReport, as JSON
  std::string quant_report_json;      // quant::QuantReport, as JSON (empty for FP32 exports)
  std::vector<Delegate> delegates;
  std::vector<Method> methods;

  const Method* find_method(std::string_view name) const;  // nullptr when absent
};

// The layout of the fixed header (all fields little-endian):
//   [0, 8)   magic "L2NPROG\0"
//   [8, 12)  u32 format version (1 .. kFormatVersion readable)
//   [12, 20) u64 payload size in bytes
//   [20, 24) u32 CRC-32 (zlib) of the payload
//   [24, 32) reserved, zero (keeps the payload 16-byte aligned in the file)
inline constexpr size_t kHeaderSize = 32;
inline constexpr char kMagic[8] = {'L', '2', 'N', 'P', 'R', 'O', 'G', '\0'};

// Throws l2n::Error if the program does not make sense (a step index out of range, an
// unknown step kind or dtype, two methods with one name) or is larger than format
// version 1 can hold (the flatbuffer payload is limited to 2 GiB).
std::vector<uint8_t> encode_program(const Program& program);
// `what` names the bytes in messages, e.g. "program 'model.l2n'".
Program decode_program(std::span<const uint8_t> bytes, const std::string& what = "program");

// write_program_file() encodes first, so a program that cannot be encoded leaves `path`
// untouched. Errors name the file.
void write_program_file(const Program& program, const std::filesystem::path& path);
Program read_program_file(const std::filesystem::path& path);

}  // namespace l2n::program
