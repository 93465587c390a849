#include "cli/program_args.h"

#include "program/tokenizer_blob.h"

namespace l2n::cli {

LoadedProgram load_program(const std::string& path, int threads) {
  LoadedProgram p;
  p.program = std::make_shared<const program::Program>(program::read_program_file(path));
  p.session = std::make_unique<runtime::ProgramSession>(p.program, runtime::ProgramSessionOptions{threads});
  p.tokenizer = program::load_tokenizer(*p.program);
  return p;
}

}  // namespace l2n::cli
