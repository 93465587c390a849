// TOSA specification strings: the grammar, the per-version extension lists, the canonical
// form, and the capabilities derived from a spec.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "target/capabilities.h"
#include "target/closest_name.h"
#include "target/tosa_spec.h"

namespace {

using l2n::Error;
using l2n::ErrorKind;
using l2n::target::TosaProfile;
using l2n::target::TosaSpec;

TEST(TosaSpec, CanonicalStringsRoundTrip) {
  for (const char* text : {"TOSA-1.0+INT", "TOSA-1.0+FP", "TOSA-1.0+INT+FP", "TOSA-1.0+FP+INT",
                           "TOSA-1.0+FP+INT+int16", "TOSA-1.0+FP+INT+int4+int16", "TOSA-1.0.0+INT",
                           "TOSA-1.0.3+FP", "TOSA-1.0+INT+8k", "TOSA-1.0+INT+int16+int4+u55",
                           "TOSA-1.0+INT+int16+int4+cf", "TOSA-1.0+FP+bf16+fp8e4m3+fp8e5m2+fft+var+cf",
                           "TOSA-1.0+INT+FP+int16+bf16", "TOSA-1.1+INT+shape+int64",
                           "TOSA-1.1+FP+random+mxfp+blockscale_ue5m3", "TOSA-1.1+INT+int16+var+u55"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(TosaSpec::parse(text).to_string(), text);
  }
}

TEST(TosaSpec, CanonicalFormPutsTheLevelAndU55Last) {
  EXPECT_EQ(TosaSpec::parse("TOSA-1.0+INT+8k+int16").to_string(), "TOSA-1.0+INT+int16+8k");
  EXPECT_EQ(TosaSpec::parse("TOSA-1.0+INT+u55+int16").to_string(), "TOSA-1.0+INT+int16+u55");
  EXPECT_EQ(TosaSpec::parse("TOSA-1.0+u55+8k+INT").to_string(), "TOSA-1.0+INT+8k+u55");
}

TEST(TosaSpec, PartsAreReported) {
  const TosaSpec spec = TosaSpec::parse("TOSA-1.0.2+FP+INT+int16+8k+u55");
  EXPECT_EQ(spec.version().major, 1);
  EXPECT_EQ(spec.version().minor, 0);
  EXPECT_EQ(spec.version().patch, 2);
  EXPECT_EQ(spec.profiles(), (std::vector<TosaProfile>{TosaProfile::Fp, TosaProfile::Int}));
  EXPECT_TRUE(spec.integer());
  EXPECT_TRUE(spec.floating_point());
  EXPECT_TRUE(spec.level_8k());
  EXPECT_TRUE(spec.is_u55_subset());
  EXPECT_EQ(spec.extensions(), std::vector<std::string>{"int16"});
  EXPECT_TRUE(spec.supports_extension("int16"));
  EXPECT_TRUE(spec.supports_extension("u55"));
  EXPECT_FALSE(spec.supports_extension("int4"));
  EXPECT_FALSE(TosaSpec::parse("TOSA-1.0+INT").version().patch.has_value());
}

TEST(TosaSpec, SameVersionAndProfilesIgnoresExtensions) {
  EXPECT_TRUE(TosaSpec::parse("TOSA-1.0+INT+int16").same_version_and_profiles(TosaSpec::parse("TOSA-1.0+INT+cf")));
  EXPECT_FALSE(TosaSpec::parse("TOSA-1.0+INT").same_version_and_profiles(TosaSpec::parse("TOSA-1.0+FP")));
  EXPECT_FALSE(TosaSpec::parse("TOSA-1.0+INT").same_version_and_profiles(TosaSpec::parse("TOSA-1.1+INT")));
  EXPECT_NE(TosaSpec::parse("TOSA-1.0+INT+int16"), TosaSpec::parse("TOSA-1.0+INT+cf"));
  EXPECT_EQ(TosaSpec::parse("TOSA-1.0+INT+int16"), TosaSpec::parse("TOSA-1.0+INT+int16"));
}

TEST(TosaSpec, ExtensionListsFollowTheVersion) {
  using l2n::target::tosa_extensions_for;
  EXPECT_EQ(tosa_extensions_for(1, 0, TosaProfile::Int).size(), 5u);
  EXPECT_EQ(tosa_extensions_for(1, 0, TosaProfile::Fp).size(), 6u);
  EXPECT_EQ(tosa_extensions_for(1, 1, TosaProfile::Int).size(), 7u);
  EXPECT_EQ(tosa_extensions_for(1, 1, TosaProfile::Fp).size(), 11u);
  EXPECT_TRUE(tosa_extensions_for(2, 0, TosaProfile::Int).empty());
}

struct BadSpec {
  const char* text;
  const char* mentions;  // the part of the string the message must point at
};

class TosaSpecRejects : public ::testing::TestWithParam<BadSpec> {};

TEST_P(TosaSpecRejects, WithAUsageErrorNamingTheProblem) {
  const BadSpec& bad = GetParam();
  try {
    (void)TosaSpec::parse(bad.text);
    FAIL() << "accepted " << bad.text;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
    EXPECT_NE(std::string(e.what()).find(bad.mentions), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, TosaSpecRejects,
    ::testing::Values(BadSpec{"", "empty"}, BadSpec{"tosa-1.0+INT", "upper-case"}, BadSpec{"TOSA1.0+INT", "TOSA1.0"},
                      BadSpec{"TOSA-1.0", "no profile"}, BadSpec{"TOSA-1+INT", "'1'"},
                      BadSpec{"TOSA-2.0+INT", "TOSA 2.0"}, BadSpec{"TOSA-1.2+INT", "TOSA 1.2"},
                      BadSpec{"TOSA-a.b+INT", "'a.b'"}, BadSpec{"TOSA-1.0.0.0+INT", "'1.0.0.0'"},
                      BadSpec{"TOSA-1.0+int", "'int'"}, BadSpec{"TOSA-1.0+INT+INT", "twice"},
                      BadSpec{"TOSA-1.0+INT+FP+FP", "twice"}, BadSpec{"TOSA-1.0+INT+", "empty part"},
                      BadSpec{"TOSA-1.0++INT", "empty part"}, BadSpec{"TOSA-1.0+FP+int16", "add +INT"},
                      BadSpec{"TOSA-1.0+INT+bf16", "add +FP"}, BadSpec{"TOSA-1.0+INT+shape", "'shape'"},
                      BadSpec{"TOSA-1.0+8k", "no profile"}, BadSpec{"TOSA-1.0+INT+u55+u55", "twice"},
                      BadSpec{"TOSA-1.0+INT+INT16", "did you mean 'int16'"},
                      BadSpec{"TOSA-1.0+FP+u55", "'u55'"}, BadSpec{"TOSA-1.0+INT+8K", "'8K'"}));

TEST(TargetCapabilities, FollowTheSpec) {
  using l2n::target::capabilities_of;
  const auto u55 = capabilities_of(TosaSpec::parse("TOSA-1.0+INT+int16+int4+u55"));
  EXPECT_TRUE(u55.integer);
  EXPECT_FALSE(u55.floating_point);
  EXPECT_TRUE(u55.int16);
  EXPECT_TRUE(u55.int4);
  EXPECT_TRUE(u55.u55_subset);
  EXPECT_FALSE(u55.int16_matmul());
  EXPECT_FALSE(u55.gather_scatter());
  EXPECT_FALSE(u55.bool_tensors());

  const auto u85 = capabilities_of(TosaSpec::parse("TOSA-1.0+INT+int16+int4+cf"));
  EXPECT_TRUE(u85.control_flow);
  EXPECT_TRUE(u85.int16_matmul());
  EXPECT_TRUE(u85.gather_scatter());
  EXPECT_TRUE(u85.select_and_comparisons());
  EXPECT_FALSE(u85.symbolic_shapes);

  const auto fp = capabilities_of(TosaSpec::parse("TOSA-1.1+FP+bf16+fp8e5m2+shape"));
  EXPECT_TRUE(fp.floating_point);
  EXPECT_FALSE(fp.integer);
  EXPECT_TRUE(fp.bf16);
  EXPECT_TRUE(fp.fp8);
  EXPECT_TRUE(fp.symbolic_shapes);
}

TEST(ClosestName, SuggestsPlausibleTyposOnly) {
  using l2n::target::closest_name;
  const std::vector<std::string_view> names = {"ethos-u85-128", "ethos-u85-256", "ethos-u55-128"};
  EXPECT_EQ(closest_name("ethos-u85-265", names), "ethos-u85-256");
  EXPECT_EQ(closest_name("Ethos-U55-128", names), "ethos-u55-128");
  EXPECT_FALSE(closest_name("cortex-m55", names).has_value());
  EXPECT_EQ(l2n::target::edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
