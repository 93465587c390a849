#include "target/ethosu_hardware.h"

#include <algorithm>
#include <array>

namespace l2n::target {

namespace {

using F = EthosUFamily;
using M = MemoryType;

constexpr uint64_t kU55MaxAddress = uint64_t{1} << 32;
constexpr uint64_t kU65U85MaxAddress = uint64_t{1} << 40;

const std::array<EthosUFamilyTraits, 3> kFamilyTraits = {{
    {8, 32, 1, kU55MaxAddress},      // U55
    {16, 40, 2, kU65U85MaxAddress},  // U65
    {16, 40, 4, kU65U85MaxAddress},  // U85
}};

const std::array<AcceleratorConfig, 11> kAcceleratorConfigs = {{
    {"ethos-u55-32", F::U55, 32, U55Microarchitecture{1, 1, 4, 16, 1}, std::nullopt},
    {"ethos-u55-64", F::U55, 64, U55Microarchitecture{1, 1, 8, 16, 2}, std::nullopt},
    {"ethos-u55-128", F::U55, 128, U55Microarchitecture{1, 2, 8, 24, 4}, std::nullopt},
    {"ethos-u55-256", F::U55, 256, U55Microarchitecture{2, 2, 8, 48, 8}, std::nullopt},
    {"ethos-u65-256", F::U65, 256, std::nullopt, std::nullopt},
    {"ethos-u65-512", F::U65, 512, std::nullopt, std::nullopt},
    {"ethos-u85-128", F::U85, 128, std::nullopt, U85Microarchitecture{1, 8, 8, 1, 0}},
    {"ethos-u85-256", F::U85, 256, std::nullopt, U85Microarchitecture{1, 16, 16, 1, 0}},
    {"ethos-u85-512", F::U85, 512, std::nullopt, U85Microarchitecture{2, std::nullopt, 32, std::nullopt, std::nullopt}},
    {"ethos-u85-1024", F::U85, 1024, std::nullopt, U85Microarchitecture{4, std::nullopt, 64, 1, 1}},
    {"ethos-u85-2048", F::U85, 2048, std::nullopt, U85Microarchitecture{4, std::nullopt, 128, 2, 1}},
}};

// Columns: memory, clock scale, ports used, burst, read latency, write latency, max reads, max writes.
constexpr std::optional<int> kNoPorts = std::nullopt;

const std::array<SystemConfig, 11> kSystemConfigs = {{
    {"Ethos_U55_Deep_Embedded", F::U55, 200'000'000,
     {M::Sram, 1.0, kNoPorts, 32, 32, 32, 8, 8}, {M::OffChipFlash, 0.0625, kNoPorts, 128, 64, 0, 2, 0}},
    {"Ethos_U55_High_End_Embedded", F::U55, 500'000'000,
     {M::Sram, 1.0, kNoPorts, 32, 32, 32, 4, 4}, {M::OffChipFlash, 0.125, kNoPorts, 128, 64, 0, 2, 0}},
    {"Ethos_U65_Embedded", F::U65, 500'000'000,
     {M::Sram, 1.0, kNoPorts, 32, 32, 32, 8, 8}, {M::OffChipFlash, 0.0625, kNoPorts, 128, 64, 0, 2, 0}},
    {"Ethos_U65_Mid_End", F::U65, 500'000'000,
     {M::Sram, 1.0, kNoPorts, 32, 32, 32, 8, 8}, {M::Dram, 0.46875, kNoPorts, 128, 500, 250, 12, 6}},
    {"Ethos_U65_High_End", F::U65, 1'000'000'000,
     {M::Sram, 1.0, kNoPorts, 32, 32, 32, 16, 16}, {M::Dram, 0.234375, kNoPorts, 128, 500, 250, 24, 12}},
    {"Ethos_U65_Client_Server", F::U65, 1'000'000'000,
     {M::Sram, 1.0, kNoPorts, 32, 32, 32, 16, 16}, {M::Dram, 0.75, kNoPorts, 128, 500, 250, 24, 12}},
    {"Ethos_U85_SYS_Flash_Low", F::U85, 200'000'000,
     {M::Sram, 1.0, 2, 64, 8, 8, 8, 8}, {M::OffChipFlash, 0.0625, 1, 128, 32, 0, 2, 0}},
    {"Ethos_U85_SYS_Flash_High", F::U85, 500'000'000,
     {M::Sram, 1.0, 2, 64, 32, 32, 8, 8}, {M::OffChipFlash, 0.0625, 1, 128, 64, 0, 2, 0}},
    {"Ethos_U85_SYS_DRAM_Low", F::U85, 500'000'000,
     {M::Sram, 1.0, 2, 64, 16, 16, 8, 8}, {M::Dram, 0.46875, 1, 128, 500, 250, 24, 12}},
    {"Ethos_U85_SYS_DRAM_Mid", F::U85, 1'000'000'000,
     {M::Sram, 1.0, 2, 64, 32, 32, 8, 8}, {M::Dram, 0.75, 1, 128, 500, 250, 64, 32}},
    {"Ethos_U85_SYS_DRAM_High", F::U85, 1'000'000'000,
     {M::Sram, 1.0, 4, 64, 32, 32, 8, 8}, {M::Dram, 0.75, 2, 128, 500, 250, 64, 32}},
}};

// Dedicated_Sram itself leaves arena_cache_size to the default in Vela 5.1; the sized
// variants inherit its areas and only set the cache size.
const std::array<MemoryMode, 6> kMemoryModes = {{
    {"Sram_Only", AxiPort::Axi0, AxiPort::Axi0, AxiPort::Axi0, std::nullopt, false},
    {"Shared_Sram", AxiPort::Axi1, AxiPort::Axi0, AxiPort::Axi0, std::nullopt, false},
    {"Dedicated_Sram", AxiPort::Axi1, AxiPort::Axi1, AxiPort::Axi0, std::nullopt, true},
    {"Dedicated_Sram_256KB", AxiPort::Axi1, AxiPort::Axi1, AxiPort::Axi0, 262144, true},
    {"Dedicated_Sram_384KB", AxiPort::Axi1, AxiPort::Axi1, AxiPort::Axi0, 393216, true},
    {"Dedicated_Sram_512KB", AxiPort::Axi1, AxiPort::Axi1, AxiPort::Axi0, 524288, true},
}};

template <typename Table>
auto find_by_name(const Table& table, std::string_view name) -> decltype(&table[0]) {
  const auto it = std::find_if(table.begin(), table.end(), [&](const auto& entry) { return entry.name == name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

std::string_view family_name(EthosUFamily family) {
  switch (family) {
    case F::U55: return "Ethos-U55";
    case F::U65: return "Ethos-U65";
    case F::U85: return "Ethos-U85";
  }
  return "Ethos-U";
}

const EthosUFamilyTraits& family_traits(EthosUFamily family) { return kFamilyTraits[static_cast<int>(family)]; }

std::span<const AcceleratorConfig> accelerator_configs() { return kAcceleratorConfigs; }
const AcceleratorConfig* find_accelerator_config(std::string_view name) { return find_by_name(kAcceleratorConfigs, name); }

std::string_view memory_type_name(MemoryType type) {
  switch (type) {
    case M::Sram: return "Sram";
    case M::Dram: return "Dram";
    case M::OffChipFlash: return "OffChipFlash";
  }
  return "";
}

std::string_view axi_port_name(AxiPort port) { return port == AxiPort::Axi0 ? "Axi0" : "Axi1"; }

std::span<const SystemConfig> system_configs() { return kSystemConfigs; }
const SystemConfig* find_system_config(std::string_view name) { return find_by_name(kSystemConfigs, name); }

double peak_bandwidth_bytes_per_second(const SystemConfig& system, AxiPort port) {
  const MemoryPortTiming& timing = system.port(port);
  return static_cast<double>(family_traits(system.family).axi_port_bytes_per_cycle) * timing.ports_used.value_or(1) *
         timing.clock_scale * static_cast<double>(system.core_clock_hz);
}

std::span<const MemoryMode> memory_modes() { return kMemoryModes; }
const MemoryMode* find_memory_mode(std::string_view name) { return find_by_name(kMemoryModes, name); }

uint64_t arena_cache_size(const MemoryMode& mode, EthosUFamily family) {
  return mode.arena_cache_size.value_or(family_traits(family).max_arena_cache_size);
}

std::string_view default_system_config(EthosUFamily family) {
  switch (family) {
    case F::U55: return "Ethos_U55_High_End_Embedded";
    case F::U65: return "Ethos_U65_High_End";
    case F::U85: return "Ethos_U85_SYS_DRAM_Mid";
  }
  return "";
}

std::string_view default_memory_mode(EthosUFamily family) {
  switch (family) {
    case F::U55: return "Shared_Sram";
    case F::U65: return "Dedicated_Sram_384KB";
    case F::U85: return "Sram_Only";
  }
  return "";
}

}  // namespace l2n::target
