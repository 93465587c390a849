// TOSA specification strings: which TOSA version, profiles and extensions a backend targets.
//
// Grammar (the one ExecuTorch's Arm backend accepts, made stricter where it was loose):
//
//   TOSA-<major>.<minor>[.<patch>] +<PROFILE> [+<PROFILE>] [+8k] [+<extension>…]
//
// - Versions 1.0 and 1.1 (any patch). The minor version is required.
// - Profiles: INT, FP; at least one, each at most once, in any order.
// - "8k" is the level; "u55" is the Ethos-U55 subset marker (an INT extension, reported by
//   is_u55_subset() rather than in extensions()).
// - Extensions must belong to an active profile of that version:
//     1.0 INT: int16 int4 var cf u55        1.0 FP: bf16 fp8e4m3 fp8e5m2 fft var cf
//     1.1 adds INT: shape int64             1.1 adds FP: shape int64 random mxfp blockscale_ue5m3
// - No token may repeat or be empty; spelling is case-sensitive (a wrong case is reported
//   with the right spelling).
//
// parse() throws l2n::Error(Usage) saying which part of the string is wrong and what is
// allowed; it does not know which option the string came from, so callers prefix that.
// to_string() gives the canonical form: version, profiles and extensions in the order they
// were written, then +8k, then +u55 (the order ExecuTorch prints), so canonical strings
// round-trip unchanged.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace l2n::target {

enum class TosaProfile { Int, Fp };

struct TosaVersion {
  int major = 1;
  int minor = 0;
  std::optional<int> patch;

  bool operator==(const TosaVersion&) const = default;
};

class TosaSpec {
 public:
  static TosaSpec parse(std::string_view text);

  std::string to_string() const;

  const TosaVersion& version() const { return version_; }
  const std::vector<TosaProfile>& profiles() const { return profiles_; }
  bool has_profile(TosaProfile profile) const;
  bool integer() const { return has_profile(TosaProfile::Int); }
  bool floating_point() const { return has_profile(TosaProfile::Fp); }
  bool level_8k() const { return level_8k_; }
  bool is_u55_subset() const { return u55_subset_; }
  // Extensions other than u55, in the order written.
  const std::vector<std::string>& extensions() const { return extensions_; }
  // True when `extension` is enabled and valid for an active profile ("u55" included).
  bool supports_extension(std::string_view extension) const;

  // ExecuTorch's notion of "the same spec": version and profiles, ignoring extensions.
  bool same_version_and_profiles(const TosaSpec& other) const;
  bool operator==(const TosaSpec&) const = default;

 private:
  TosaVersion version_;
  std::vector<TosaProfile> profiles_;
  std::vector<std::string> extensions_;
  bool level_8k_ = false;
  bool u55_subset_ = false;
};

std::string_view profile_name(TosaProfile profile);

// The versions parse() accepts, as "major.minor".
std::span<const std::string_view> supported_tosa_versions();

// Extensions allowed with `profile` in TOSA `major.minor`; empty for unsupported versions.
std::vector<std::string_view> tosa_extensions_for(int major, int minor, TosaProfile profile);

}  // namespace l2n::target
