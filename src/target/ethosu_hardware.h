// Ethos-U hardware as Vela 5.1 describes it: the accelerator configurations
// (--accelerator-config), the system configurations and memory modes of the vela.ini that
// ships with Vela (Arm/vela.ini), and the defaults ExecuTorch picks per NPU family.
//
// Everything here is data from ethos-u-vela 5.1.0 (see
// shared/docs/reference/ethos-u-vela-facts.md §1–2); a field the reference does not state is
// std::nullopt rather than a guess. Lookups are exact and case-sensitive, as in Vela.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace l2n::target {

enum class EthosUFamily { U55, U65, U85 };

std::string_view family_name(EthosUFamily family);  // "Ethos-U55", …

// Properties shared by every configuration of a family (architecture_features.py).
struct EthosUFamilyTraits {
  int axi_port_bytes_per_cycle;  // per AXI port
  int address_bits;              // NPU address width
  int outstanding_dma;           // concurrent DMA transfers
  // arena_cache_size when neither the memory mode nor --arena-cache-size sets it: the
  // largest address the NPU can form.
  uint64_t max_arena_cache_size;
};

const EthosUFamilyTraits& family_traits(EthosUFamily family);

// Ethos-U55 micro-architecture (ethos_u55.cpp).
struct U55Microarchitecture {
  int ofm_ublock_height, ofm_ublock_width, ofm_ublock_depth;
  int shram_banks;
  int elementwise_units;
};

// Ethos-U85 micro-architecture (ethos_u85.cpp); the reference leaves some fields of the
// larger configurations unstated.
struct U85Microarchitecture {
  int cores;
  std::optional<int> ifm_ram_kib;
  int accumulator_ram_kib;
  std::optional<int> axi_sram_ports_log2;
  std::optional<int> axi_external_ports_log2;
};

struct AcceleratorConfig {
  std::string_view name;  // the --accelerator-config value, e.g. "ethos-u85-256"
  EthosUFamily family;
  int int8_macs_per_cycle;  // the number in the name; int16x8 peaks at half of it
  std::optional<U55Microarchitecture> u55;
  std::optional<U85Microarchitecture> u85;

  int int16_macs_per_cycle() const { return int8_macs_per_cycle / 2; }
};

// All 11 configurations, U55 then U65 then U85, smallest first.
std::span<const AcceleratorConfig> accelerator_configs();
const AcceleratorConfig* find_accelerator_config(std::string_view name);

enum class MemoryType { Sram, Dram, OffChipFlash };
std::string_view memory_type_name(MemoryType type);  // the vela.ini spelling: Sram, Dram, OffChipFlash

enum class AxiPort { Axi0, Axi1 };
std::string_view axi_port_name(AxiPort port);

// One AXI port's memory in a system config (the <Mem>_* keys of vela.ini).
struct MemoryPortTiming {
  MemoryType memory;
  double clock_scale;             // memory clock relative to the core clock
  std::optional<int> ports_used;  // only U85 sections set it; Vela then assumes 1
  int burst_length_bytes;
  int read_latency_cycles;
  int write_latency_cycles;
  int max_reads;   // outstanding read transactions
  int max_writes;  // outstanding write transactions
};

struct SystemConfig {
  std::string_view name;  // the --system-config value
  EthosUFamily family;
  int64_t core_clock_hz;
  MemoryPortTiming axi0;
  MemoryPortTiming axi1;

  const MemoryPortTiming& port(AxiPort which) const { return which == AxiPort::Axi0 ? axi0 : axi1; }
};

// The 11 system configs of Arm/vela.ini.
std::span<const SystemConfig> system_configs();
const SystemConfig* find_system_config(std::string_view name);

// Design peak bandwidth of one port: bytes/cycle/port × ports × clock scale × core clock.
double peak_bandwidth_bytes_per_second(const SystemConfig& system, AxiPort port);

struct MemoryMode {
  std::string_view name;  // the --memory-mode value
  AxiPort const_area;     // weights, biases, scales, constant tensors
  AxiPort arena_area;     // the tensor arena: inputs, outputs, intermediates, NPU scratch
  AxiPort cache_area;     // dedicated-SRAM staging area
  std::optional<uint64_t> arena_cache_size;  // nullopt: the family's max_arena_cache_size
  // Dedicated_Sram* modes put the arena in external memory and use SRAM as an NPU-private
  // cache, which the Ethos-U55 does not have.
  bool needs_dedicated_sram;

  bool available_on(EthosUFamily family) const { return !needs_dedicated_sram || family != EthosUFamily::U55; }
};

// The 6 memory modes of Arm/vela.ini.
std::span<const MemoryMode> memory_modes();
const MemoryMode* find_memory_mode(std::string_view name);

// The arena (Sram_Only, Shared_Sram) or cache (Dedicated_Sram*) size Vela will plan for.
uint64_t arena_cache_size(const MemoryMode& mode, EthosUFamily family);

// What ExecuTorch passes when system_config / memory_mode are left at "default". These are
// ExecuTorch's choices (EthosUCompileSpec), which always reach Vela explicitly; Vela's own
// built-in defaults (U65 Ethos_U65_Client_Server, U65/U85 Dedicated_Sram_384KB) never apply.
std::string_view default_system_config(EthosUFamily family);
std::string_view default_memory_mode(EthosUFamily family);

}  // namespace l2n::target
