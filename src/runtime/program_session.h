// ProgramSession: runs an exported program (program/program.h) on the host, exactly as the
// target would: CPU steps with the executor (FP32 kernels, integer reference kernels for
// integer ops the target refused), delegate steps with the TOSA integer interpreter reading
// the serialized TOSA flatbuffer itself.
//
// Contract: everything is prepared at construction (TOSA decoded and validated, executors
// built), so a bad program fails there with the step it is about. forward_window() needs
// exactly the token count the "forward" method was exported for; decode() needs a program
// exported with the KV cache ("decode" method); both name the export setting to change
// when a method is missing or has another shape. The session owns the decode state (the
// caches, in the dtype the program declares) and hands it to each decode step, which may
// update it in place; a decode step that fails resets the session (position 0).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "program/program.h"
#include "runtime/runner.h"

namespace l2n::runtime {

struct ProgramSessionOptions {
  int threads = 0;  // 0 = all cores
};

class ProgramSession final : public Runner {
 public:
  ProgramSession(std::shared_ptr<const program::Program> program, ProgramSessionOptions options);
  ~ProgramSession() override;

  int64_t vocab_size() const override;
  int64_t max_context() const override;
  Tensor forward_window(std::span<const int32_t> tokens) override;
  std::span<const float> decode(int32_t token) override;
  int64_t position() const override { return position_; }
  void reset() override;

  // The token count of the "forward" method (0 when the program has none).
  int64_t window_length() const;

  // Runs one method on named inputs; returns its named outputs (the method's output specs).
  std::map<std::string, Tensor> run_method(const std::string& method, std::map<std::string, Tensor> inputs) const;

  const program::Program& program() const { return *program_; }

 private:
  struct PreparedMethod;
  const PreparedMethod& prepared(const std::string& name) const;

  std::shared_ptr<const program::Program> program_;
  ProgramSessionOptions options_;
  std::map<std::string, std::unique_ptr<PreparedMethod>> methods_;
  std::map<std::string, Tensor> decode_state_;
  Tensor last_logits_;
  int64_t position_ = 0;
};

}  // namespace l2n::runtime
