#include "target/capabilities.h"

namespace l2n::target {

TargetCapabilities capabilities_of(const TosaSpec& spec) {
  TargetCapabilities caps;
  caps.integer = spec.integer();
  caps.floating_point = spec.floating_point();
  caps.int16 = spec.supports_extension("int16");
  caps.int4 = spec.supports_extension("int4");
  caps.bf16 = spec.supports_extension("bf16");
  caps.fp8 = spec.supports_extension("fp8e4m3") || spec.supports_extension("fp8e5m2");
  caps.control_flow = spec.supports_extension("cf");
  caps.variables = spec.supports_extension("var");
  caps.int64 = spec.supports_extension("int64");
  caps.symbolic_shapes = spec.supports_extension("shape");
  caps.level_8k = spec.level_8k();
  caps.u55_subset = spec.is_u55_subset();
  return caps;
}

}  // namespace l2n::target
