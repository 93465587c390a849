// llm2npu: take a Llama-family checkpoint and make it run on Arm NPUs.
// Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "cli/common.h"
#include "core/atomic_file.h"
#include "core/error.h"

int main(int argc, char** argv) {
  // An interrupted write must not leave temporary files behind (core/atomic_file.h).
  l2n::install_interrupt_cleanup();
  CLI::App app{"llm2npu: run Llama-family checkpoints and export them for Arm NPUs (Ethos-U, TOSA, VGF)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "llm2npu 0.1.0");
  l2n::cli::register_generate(app);
  l2n::cli::register_eval(app);
  l2n::cli::register_inspect(app);
  l2n::cli::register_tokenize(app);
  l2n::cli::register_config(app);
  l2n::cli::register_tosa(app);
  l2n::cli::register_export(app);
  l2n::cli::register_make_model(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const l2n::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    return static_cast<int>(e.kind());
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    fmt::print(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
