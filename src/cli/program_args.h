// --program FILE, shared by eval and generate: run an exported program (its CPU steps and
// its TOSA delegates through the interpreter) instead of a checkpoint.
#pragma once

#include <memory>
#include <string>

#include "program/program.h"
#include "runtime/program_session.h"
#include "tokenizer/tokenizer.h"

namespace l2n::cli {

struct LoadedProgram {
  std::shared_ptr<const program::Program> program;
  std::unique_ptr<runtime::ProgramSession> session;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};

// Reads, checks and prepares the program (a bad file is an error naming it).
LoadedProgram load_program(const std::string& path, int threads);

}  // namespace l2n::cli
