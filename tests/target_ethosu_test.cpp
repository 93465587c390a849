// Ethos-U hardware data (Vela 5.1's accelerator configs, vela.ini system configs and memory
// modes), the per-family defaults, and the compile specs with the exact Vela arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "core/error.h"
#include "target/compile_spec.h"
#include "target/ethosu_hardware.h"

namespace {

using namespace l2n::target;
using l2n::Error;
using l2n::ErrorKind;

// Runs `body`, expects a Usage error whose message contains every string in `mentions`.
template <typename Body>
void expect_usage_error(Body body, std::initializer_list<const char*> mentions) {
  try {
    body();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage) << e.what();
    for (const char* text : mentions) EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(EthosUHardware, ElevenAcceleratorConfigs) {
  const auto configs = accelerator_configs();
  ASSERT_EQ(configs.size(), 11u);
  const std::vector<std::pair<std::string_view, int>> expected = {
      {"ethos-u55-32", 32},   {"ethos-u55-64", 64},   {"ethos-u55-128", 128},  {"ethos-u55-256", 256},
      {"ethos-u65-256", 256}, {"ethos-u65-512", 512}, {"ethos-u85-128", 128},  {"ethos-u85-256", 256},
      {"ethos-u85-512", 512}, {"ethos-u85-1024", 1024}, {"ethos-u85-2048", 2048}};
  for (std::size_t i = 0; i < configs.size(); ++i) {
    EXPECT_EQ(configs[i].name, expected[i].first);
    EXPECT_EQ(configs[i].int8_macs_per_cycle, expected[i].second);
    EXPECT_EQ(configs[i].int16_macs_per_cycle(), expected[i].second / 2);
    EXPECT_EQ(find_accelerator_config(configs[i].name), &configs[i]);
    const EthosUFamily family = i < 4 ? EthosUFamily::U55 : i < 6 ? EthosUFamily::U65 : EthosUFamily::U85;
    EXPECT_EQ(configs[i].family, family) << configs[i].name;
    EXPECT_EQ(configs[i].u55.has_value(), family == EthosUFamily::U55);
    EXPECT_EQ(configs[i].u85.has_value(), family == EthosUFamily::U85);
  }
  EXPECT_EQ(find_accelerator_config("Ethos-U85-256"), nullptr);  // exact, like Vela
  const auto& u55_256 = *find_accelerator_config("ethos-u55-256")->u55;
  EXPECT_EQ(u55_256.shram_banks, 48);
  EXPECT_EQ(u55_256.elementwise_units, 8);
  const auto& u85_2048 = *find_accelerator_config("ethos-u85-2048")->u85;
  EXPECT_EQ(u85_2048.cores, 4);
  EXPECT_EQ(u85_2048.accumulator_ram_kib, 128);
  EXPECT_EQ(u85_2048.axi_sram_ports_log2, 2);
  EXPECT_FALSE(find_accelerator_config("ethos-u85-512")->u85->ifm_ram_kib.has_value());
}

TEST(EthosUHardware, FamilyTraits) {
  EXPECT_EQ(family_traits(EthosUFamily::U55).axi_port_bytes_per_cycle, 8);
  EXPECT_EQ(family_traits(EthosUFamily::U55).address_bits, 32);
  EXPECT_EQ(family_traits(EthosUFamily::U55).max_arena_cache_size, uint64_t{1} << 32);
  EXPECT_EQ(family_traits(EthosUFamily::U65).outstanding_dma, 2);
  EXPECT_EQ(family_traits(EthosUFamily::U85).outstanding_dma, 4);
  EXPECT_EQ(family_traits(EthosUFamily::U85).max_arena_cache_size, uint64_t{1} << 40);
}

TEST(EthosUHardware, SystemConfigsMatchVelaIni) {
  ASSERT_EQ(system_configs().size(), 11u);
  const SystemConfig& high = *find_system_config("Ethos_U85_SYS_DRAM_High");
  EXPECT_EQ(high.family, EthosUFamily::U85);
  EXPECT_EQ(high.core_clock_hz, 1'000'000'000);
  EXPECT_EQ(high.axi0.memory, MemoryType::Sram);
  EXPECT_EQ(high.axi0.ports_used, 4);
  EXPECT_EQ(high.axi0.burst_length_bytes, 64);
  EXPECT_EQ(high.axi1.memory, MemoryType::Dram);
  EXPECT_EQ(high.axi1.clock_scale, 0.75);
  EXPECT_EQ(high.axi1.ports_used, 2);
  EXPECT_EQ(high.axi1.read_latency_cycles, 500);
  EXPECT_EQ(high.axi1.write_latency_cycles, 250);
  EXPECT_EQ(high.axi1.max_reads, 64);
  EXPECT_EQ(high.axi1.max_writes, 32);
  const SystemConfig& deep = *find_system_config("Ethos_U55_Deep_Embedded");
  EXPECT_EQ(deep.core_clock_hz, 200'000'000);
  EXPECT_EQ(deep.axi1.memory, MemoryType::OffChipFlash);
  EXPECT_FALSE(deep.axi1.ports_used.has_value());
  EXPECT_EQ(deep.axi1.write_latency_cycles, 0);
  const SystemConfig& flash_low = *find_system_config("Ethos_U85_SYS_Flash_Low");
  EXPECT_EQ(flash_low.axi0.read_latency_cycles, 8);
  EXPECT_EQ(flash_low.axi1.read_latency_cycles, 32);
  EXPECT_EQ(find_system_config("ethos_u85_sys_dram_high"), nullptr);
}

// The nominal bandwidths the vela.ini comments give must follow from the data.
TEST(EthosUHardware, PeakBandwidthsMatchTheIniComments) {
  const std::vector<std::tuple<std::string_view, double, double>> nominal_gbps = {
      {"Ethos_U55_Deep_Embedded", 1.6, 0.1},  {"Ethos_U55_High_End_Embedded", 4, 0.5},
      {"Ethos_U65_Embedded", 8, 0.5},         {"Ethos_U65_Mid_End", 8, 3.75},
      {"Ethos_U65_High_End", 16, 3.75},       {"Ethos_U65_Client_Server", 16, 12},
      {"Ethos_U85_SYS_Flash_Low", 6.4, 0.2},  {"Ethos_U85_SYS_Flash_High", 16, 0.5},
      {"Ethos_U85_SYS_DRAM_Low", 16, 3.75},   {"Ethos_U85_SYS_DRAM_Mid", 32, 12},
      {"Ethos_U85_SYS_DRAM_High", 64, 24}};
  for (const auto& [name, axi0, axi1] : nominal_gbps) {
    SCOPED_TRACE(std::string(name));
    const SystemConfig* system = find_system_config(name);
    ASSERT_NE(system, nullptr);
    EXPECT_NEAR(peak_bandwidth_bytes_per_second(*system, AxiPort::Axi0) / 1e9, axi0, 1e-9);
    EXPECT_NEAR(peak_bandwidth_bytes_per_second(*system, AxiPort::Axi1) / 1e9, axi1, 1e-9);
  }
}

TEST(EthosUHardware, MemoryModes) {
  ASSERT_EQ(memory_modes().size(), 6u);
  const MemoryMode& sram_only = *find_memory_mode("Sram_Only");
  EXPECT_EQ(sram_only.const_area, AxiPort::Axi0);
  EXPECT_EQ(sram_only.arena_area, AxiPort::Axi0);
  const MemoryMode& shared = *find_memory_mode("Shared_Sram");
  EXPECT_EQ(shared.const_area, AxiPort::Axi1);
  EXPECT_EQ(shared.arena_area, AxiPort::Axi0);
  EXPECT_TRUE(shared.available_on(EthosUFamily::U55));
  EXPECT_EQ(arena_cache_size(shared, EthosUFamily::U55), uint64_t{1} << 32);
  EXPECT_EQ(arena_cache_size(shared, EthosUFamily::U85), uint64_t{1} << 40);
  const MemoryMode& dedicated = *find_memory_mode("Dedicated_Sram");
  EXPECT_EQ(dedicated.arena_area, AxiPort::Axi1);
  EXPECT_EQ(dedicated.cache_area, AxiPort::Axi0);
  EXPECT_FALSE(dedicated.arena_cache_size.has_value());
  EXPECT_EQ(*find_memory_mode("Dedicated_Sram_256KB")->arena_cache_size, 262144u);
  EXPECT_EQ(*find_memory_mode("Dedicated_Sram_384KB")->arena_cache_size, 393216u);
  EXPECT_EQ(*find_memory_mode("Dedicated_Sram_512KB")->arena_cache_size, 524288u);
  for (const MemoryMode& mode : memory_modes()) {
    const bool dedicated_mode = std::string_view(mode.name).starts_with("Dedicated_Sram");
    EXPECT_EQ(mode.available_on(EthosUFamily::U55), !dedicated_mode) << mode.name;
    EXPECT_TRUE(mode.available_on(EthosUFamily::U65));
    EXPECT_TRUE(mode.available_on(EthosUFamily::U85));
  }
}

TEST(EthosUHardware, FamilyDefaultsAreExecuTorchs) {
  EXPECT_EQ(default_system_config(EthosUFamily::U55), "Ethos_U55_High_End_Embedded");
  EXPECT_EQ(default_memory_mode(EthosUFamily::U55), "Shared_Sram");
  EXPECT_EQ(default_system_config(EthosUFamily::U65), "Ethos_U65_High_End");
  EXPECT_EQ(default_memory_mode(EthosUFamily::U65), "Dedicated_Sram_384KB");
  EXPECT_EQ(default_system_config(EthosUFamily::U85), "Ethos_U85_SYS_DRAM_Mid");
  EXPECT_EQ(default_memory_mode(EthosUFamily::U85), "Sram_Only");
  // Every target accepts its own defaults.
  for (const AcceleratorConfig& accelerator : accelerator_configs()) {
    const auto spec = EthosUCompileSpec::create(accelerator.name, std::nullopt, std::nullopt);
    EXPECT_EQ(spec.system_config->name, default_system_config(accelerator.family));
    EXPECT_EQ(spec.memory_mode->name, default_memory_mode(accelerator.family));
  }
}

TEST(EthosUCompileSpec, DefaultResolvesPerFamily) {
  const auto u85 = EthosUCompileSpec::create("ethos-u85-256", "default", "default");
  EXPECT_EQ(u85.system_config->name, "Ethos_U85_SYS_DRAM_Mid");
  EXPECT_EQ(u85.memory_mode->name, "Sram_Only");
  const auto u55 = EthosUCompileSpec::create("ethos-u55-128", "default", std::nullopt);
  EXPECT_EQ(u55.system_config->name, "Ethos_U55_High_End_Embedded");
  EXPECT_EQ(u55.memory_mode->name, "Shared_Sram");
}

TEST(EthosUCompileSpec, TosaSpecPerTarget) {
  for (const AcceleratorConfig& accelerator : accelerator_configs()) {
    const std::string expected = accelerator.family == EthosUFamily::U85 ? "TOSA-1.0+INT+int16+int4+cf"
                                                                         : "TOSA-1.0+INT+int16+int4+u55";
    EXPECT_EQ(tosa_spec_for(accelerator).to_string(), expected) << accelerator.name;
  }
  EXPECT_TRUE(tosa_spec_for(*find_accelerator_config("ethos-u65-512")).is_u55_subset());
}

TEST(EthosUCompileSpec, VelaArgumentsForTheSmolLm2Example) {
  const auto spec = EthosUCompileSpec::create("ethos-u85-256", "Ethos_U85_SYS_DRAM_High", "Dedicated_Sram_512KB");
  EXPECT_EQ(spec.vela_arguments(),
            (std::vector<std::string>{"--accelerator-config=ethos-u85-256", "--config=Arm/vela.ini",
                                      "--output-format=raw", "--system-config=Ethos_U85_SYS_DRAM_High",
                                      "--memory-mode=Dedicated_Sram_512KB"}));
  EXPECT_EQ(spec.effective_arena_cache_size(), 524288u);
  const CompileSpecEntries entries = spec.entries();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0], (std::pair<std::string, std::string>{"tosa_spec", "TOSA-1.0+INT+int16+int4+cf"}));
  EXPECT_EQ(entries[1].second,
            "--accelerator-config=ethos-u85-256 --config=Arm/vela.ini --output-format=raw "
            "--system-config=Ethos_U85_SYS_DRAM_High --memory-mode=Dedicated_Sram_512KB");
  EXPECT_EQ(entries[2], (std::pair<std::string, std::string>{"output_format", "vela"}));
  EXPECT_EQ(entries[3], (std::pair<std::string, std::string>{"target", "ethos-u85-256"}));
}

TEST(EthosUCompileSpec, ExtraFlagsComeFirstInTheUsersOrder) {
  const auto spec = EthosUCompileSpec::create("ethos-u55-128", std::nullopt, std::nullopt,
                                              {"--verbose-performance", "--arena-cache-size=1048576"});
  const auto arguments = spec.vela_arguments();
  ASSERT_EQ(arguments.size(), 7u);
  EXPECT_EQ(arguments[0], "--verbose-performance");
  EXPECT_EQ(arguments[1], "--arena-cache-size=1048576");
  EXPECT_EQ(arguments[2], "--accelerator-config=ethos-u55-128");
  EXPECT_EQ(arguments[5], "--system-config=Ethos_U55_High_End_Embedded");
  EXPECT_EQ(arguments[6], "--memory-mode=Shared_Sram");
  EXPECT_EQ(spec.effective_arena_cache_size(), 1048576u);
  const auto two_items =
      EthosUCompileSpec::create("ethos-u85-128", std::nullopt, std::nullopt, {"--arena-cache-size", "2048"});
  EXPECT_EQ(two_items.effective_arena_cache_size(), 2048u);
  EXPECT_EQ(EthosUCompileSpec::create("ethos-u55-64", std::nullopt, std::nullopt).effective_arena_cache_size(),
            uint64_t{1} << 32);
}

TEST(EthosUCompileSpec, RejectsUnknownTargets) {
  expect_usage_error([] { (void)EthosUCompileSpec::create("ethos-u85-265", std::nullopt, std::nullopt); },
                     {"ethos-u85-265", "did you mean 'ethos-u85-256'"});
  expect_usage_error([] { (void)require_accelerator_config("cortex-m55"); }, {"cortex-m55", "ethos-u55-32"});
}

TEST(EthosUCompileSpec, RejectsSystemConfigsOfAnotherFamily) {
  expect_usage_error([] { (void)EthosUCompileSpec::create("ethos-u85-256", "Ethos_U55_High_End_Embedded", std::nullopt); },
                     {"Ethos_U55_High_End_Embedded", "Ethos-U55", "ethos-u85-256"});
  expect_usage_error([] { (void)EthosUCompileSpec::create("ethos-u55-128", "Ethos_U65_High_End", std::nullopt); },
                     {"Ethos_U65_High_End", "Ethos_U55_High_End_Embedded"});
  expect_usage_error([] { (void)EthosUCompileSpec::create("ethos-u65-256", "Ethos_U85_SYS_DRAM_Mid", std::nullopt); },
                     {"Ethos_U85_SYS_DRAM_Mid", "Ethos-U65"});
  expect_usage_error([] { (void)EthosUCompileSpec::create("ethos-u85-256", "Ethos_U85_SYS_DRAM_Highest", std::nullopt); },
                     {"did you mean 'Ethos_U85_SYS_DRAM_High'"});
}

TEST(EthosUCompileSpec, RejectsDedicatedSramOnU55) {
  for (std::string_view target : {"ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256"})
    for (std::string_view mode : {"Dedicated_Sram", "Dedicated_Sram_256KB", "Dedicated_Sram_384KB", "Dedicated_Sram_512KB"})
      expect_usage_error([&] { (void)EthosUCompileSpec::create(target, std::nullopt, mode); },
                         {std::string(mode).c_str(), std::string(target).c_str(), "Shared_Sram"});
  expect_usage_error([] { (void)EthosUCompileSpec::create("ethos-u85-256", std::nullopt, "Shared_SRAM"); },
                     {"did you mean 'Shared_Sram'"});
  // U65 and U85 may use them.
  EXPECT_NO_THROW((void)EthosUCompileSpec::create("ethos-u65-256", std::nullopt, "Dedicated_Sram"));
  EXPECT_NO_THROW((void)EthosUCompileSpec::create("ethos-u85-2048", std::nullopt, "Dedicated_Sram_256KB"));
}

TEST(EthosUCompileSpec, RejectsBadExtraFlags) {
  const auto create = [](std::vector<std::string> flags) {
    return [flags] { (void)EthosUCompileSpec::create("ethos-u85-256", std::nullopt, std::nullopt, flags); };
  };
  expect_usage_error(create({"--arena-cache-size 1048576"}), {"whitespace", "--arena-cache-size=1048576"});
  expect_usage_error(create({""}), {"empty"});
  expect_usage_error(create({"verbose"}), {"'verbose'"});
  expect_usage_error(create({"--arena-cache-size=lots"}), {"'lots'"});
  expect_usage_error(create({"--arena-cache-size=0"}), {"'0'"});
  for (const char* managed : {"--accelerator-config=ethos-u55-32", "--system-config=X", "--memory-mode=Sram_Only",
                              "--config=my.ini", "--output-format=tflite", "--output-dir=/tmp"})
    expect_usage_error(create({managed}), {managed});
  EXPECT_NO_THROW(create({"--arena-cache-size", "4096", "--verbose-all"})());
}

TEST(VgfCompileSpec, DefaultsFlagsAndArguments) {
  const auto unset = VgfCompileSpec::create(std::nullopt);
  EXPECT_EQ(unset.tosa_spec.to_string(), "TOSA-1.0+FP+INT+int4+int16");
  const auto spec = VgfCompileSpec::create("TOSA-1.0+FP+INT+int16", {"--opt", "  ", "", "--fast"});
  EXPECT_EQ(spec.compiler_flags, (std::vector<std::string>{"--opt", "--fast"}));
  EXPECT_EQ(spec.converter_arguments("in.tosa", "out.vgf"),
            (std::vector<std::string>{"--opt", "--fast", "-i", "in.tosa", "-o", "out.vgf"}));
  const CompileSpecEntries entries = spec.entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1], (std::pair<std::string, std::string>{"compile_flags", "--opt --fast"}));
  EXPECT_EQ(entries[2], (std::pair<std::string, std::string>{"output_format", "vgf"}));
  EXPECT_EQ(VgfCompileSpec::create("TOSA-1.0+INT").entries().size(), 2u);
  expect_usage_error([] { (void)VgfCompileSpec::create("TOSA-1.0+INT+fp8e4m3"); }, {"fp8e4m3"});
}

TEST(TosaCompileSpec, Entries) {
  const auto spec = TosaCompileSpec::create("TOSA-1.0+INT");
  EXPECT_EQ(spec.entries(), (CompileSpecEntries{{"tosa_spec", "TOSA-1.0+INT"}, {"output_format", "tosa"}}));
  expect_usage_error([] { (void)TosaCompileSpec::create("TOSA-1.0+int"); }, {"upper-case"});
}

}  // namespace
