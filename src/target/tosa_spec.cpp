#include "target/tosa_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "core/error.h"
#include "target/closest_name.h"

namespace l2n::target {

namespace {

constexpr std::array<std::string_view, 2> kSupportedVersions = {"1.0", "1.1"};

constexpr std::array<std::string_view, 5> kInt10 = {"int16", "int4", "var", "cf", "u55"};
constexpr std::array<std::string_view, 6> kFp10 = {"bf16", "fp8e4m3", "fp8e5m2", "fft", "var", "cf"};
constexpr std::array<std::string_view, 2> kInt11Additions = {"shape", "int64"};
constexpr std::array<std::string_view, 5> kFp11Additions = {"shape", "int64", "random", "mxfp", "blockscale_ue5m3"};

constexpr std::string_view kGrammar = "TOSA-<major>.<minor>[.<patch>]+INT|FP[+INT|FP][+8k][+<extension>...]";

std::optional<int> parse_number(std::string_view digits) {
  if (digits.empty() || digits.size() > 4) return std::nullopt;
  int value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::vector<std::string_view> split_on_plus(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t plus = text.find('+', start);
    parts.push_back(text.substr(start, plus == std::string_view::npos ? std::string_view::npos : plus - start));
    if (plus == std::string_view::npos) return parts;
    start = plus + 1;
  }
}

std::string lowercase(std::string_view text) {
  std::string folded(text);
  for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return folded;
}

TosaVersion parse_version(std::string_view text, std::string_view whole) {
  std::vector<std::string_view> numbers;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    numbers.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (numbers.size() < 2 || numbers.size() > 3)
    fail_usage("TOSA specification '{}' has version '{}'; write it as <major>.<minor> or <major>.<minor>.<patch>, "
               "e.g. TOSA-1.0+INT",
               whole, text);
  std::array<int, 3> parsed{};
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    const auto number = parse_number(numbers[i]);
    if (!number)
      fail_usage("TOSA specification '{}' has version '{}', which is not made of numbers; write it as "
                 "<major>.<minor>, e.g. TOSA-1.0+INT",
                 whole, text);
    parsed[i] = *number;
  }
  TosaVersion version{parsed[0], parsed[1], std::nullopt};
  if (numbers.size() == 3) version.patch = parsed[2];
  const std::string major_minor = fmt::format("{}.{}", version.major, version.minor);
  if (std::find(kSupportedVersions.begin(), kSupportedVersions.end(), major_minor) == kSupportedVersions.end())
    fail_usage("TOSA specification '{}' asks for TOSA {}, which is not supported; use version {}", whole, major_minor,
               join_names(kSupportedVersions, " or "));
  return version;
}

}  // namespace

std::string_view profile_name(TosaProfile profile) { return profile == TosaProfile::Int ? "INT" : "FP"; }

std::span<const std::string_view> supported_tosa_versions() { return kSupportedVersions; }

std::vector<std::string_view> tosa_extensions_for(int major, int minor, TosaProfile profile) {
  std::vector<std::string_view> names;
  if (major != 1 || (minor != 0 && minor != 1)) return names;
  if (profile == TosaProfile::Int) {
    names.assign(kInt10.begin(), kInt10.end());
    if (minor == 1) names.insert(names.end(), kInt11Additions.begin(), kInt11Additions.end());
  } else {
    names.assign(kFp10.begin(), kFp10.end());
    if (minor == 1) names.insert(names.end(), kFp11Additions.begin(), kFp11Additions.end());
  }
  return names;
}

TosaSpec TosaSpec::parse(std::string_view text) {
  constexpr std::string_view kPrefix = "TOSA-";
  if (text.empty()) fail_usage("the TOSA specification is empty; write it as {}, e.g. TOSA-1.0+INT", kGrammar);
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    if (lowercase(text.substr(0, kPrefix.size())) == "tosa-")
      fail_usage("TOSA specification '{}' must start with upper-case 'TOSA-', e.g. TOSA-1.0+INT", text);
    fail_usage("'{}' is not a TOSA specification; write it as {}, e.g. TOSA-1.0+INT", text, kGrammar);
  }
  const std::vector<std::string_view> parts = split_on_plus(text.substr(kPrefix.size()));
  TosaSpec spec;
  spec.version_ = parse_version(parts.front(), text);
  if (parts.size() == 1)
    fail_usage("TOSA specification '{}' names no profile; add +INT (integer, for quantized models) and/or +FP "
               "(floating point), e.g. {}+INT",
               text, text);

  std::vector<std::string_view> extension_tokens;
  std::vector<std::string_view> seen;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string_view token = parts[i];
    if (token.empty())
      fail_usage("TOSA specification '{}' has an empty part between '+' signs; remove the extra '+'", text);
    if (std::find(seen.begin(), seen.end(), token) != seen.end())
      fail_usage("TOSA specification '{}' lists '{}' twice; name each profile and extension once", text, token);
    seen.push_back(token);
    if (token == "INT") {
      spec.profiles_.push_back(TosaProfile::Int);
    } else if (token == "FP") {
      spec.profiles_.push_back(TosaProfile::Fp);
    } else if (token == "8k") {
      spec.level_8k_ = true;
    } else if (token == "int" || token == "fp" || token == "Int" || token == "Fp" || token == "8K") {
      fail_usage("TOSA specification '{}' writes '{}'; profiles are upper-case (INT, FP) and the level is '8k'", text,
                 token);
    } else {
      extension_tokens.push_back(token);
    }
  }
  if (spec.profiles_.empty())
    fail_usage("TOSA specification '{}' names no profile; add +INT (integer, for quantized models) and/or +FP "
               "(floating point)",
               text);

  std::vector<std::string_view> allowed;
  for (TosaProfile profile : spec.profiles_)
    for (std::string_view name : tosa_extensions_for(spec.version_.major, spec.version_.minor, profile))
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) allowed.push_back(name);

  std::string profiles_text;
  for (TosaProfile profile : spec.profiles_) profiles_text += fmt::format("+{}", profile_name(profile));
  for (std::string_view token : extension_tokens) {
    if (std::find(allowed.begin(), allowed.end(), token) == allowed.end()) {
      std::string_view other_profile_hint;
      const TosaProfile other = spec.integer() ? TosaProfile::Fp : TosaProfile::Int;
      const auto other_list = tosa_extensions_for(spec.version_.major, spec.version_.minor, other);
      if (std::find(other_list.begin(), other_list.end(), token) != other_list.end())
        other_profile_hint = other == TosaProfile::Int ? "; it belongs to the INT profile, so add +INT"
                                                       : "; it belongs to the FP profile, so add +FP";
      fail_usage("TOSA specification '{}' has extension '{}', which TOSA {}.{}{} does not offer{}{}; allowed: {}", text,
                 token, spec.version_.major, spec.version_.minor, profiles_text, did_you_mean(token, allowed),
                 other_profile_hint, join_names(allowed));
    }
    if (token == "u55")
      spec.u55_subset_ = true;
    else
      spec.extensions_.emplace_back(token);
  }
  return spec;
}

std::string TosaSpec::to_string() const {
  std::string text = fmt::format("TOSA-{}.{}", version_.major, version_.minor);
  if (version_.patch) text += fmt::format(".{}", *version_.patch);
  for (TosaProfile profile : profiles_) text += fmt::format("+{}", profile_name(profile));
  for (const std::string& extension : extensions_) text += "+" + extension;
  if (level_8k_) text += "+8k";
  if (u55_subset_) text += "+u55";
  return text;
}

bool TosaSpec::has_profile(TosaProfile profile) const {
  return std::find(profiles_.begin(), profiles_.end(), profile) != profiles_.end();
}

bool TosaSpec::supports_extension(std::string_view extension) const {
  if (extension == "u55") return u55_subset_;
  if (std::find(extensions_.begin(), extensions_.end(), extension) == extensions_.end()) return false;
  for (TosaProfile profile : profiles_) {
    const auto allowed = tosa_extensions_for(version_.major, version_.minor, profile);
    if (std::find(allowed.begin(), allowed.end(), extension) != allowed.end()) return true;
  }
  return false;
}

bool TosaSpec::same_version_and_profiles(const TosaSpec& other) const {
  return version_ == other.version_ && profiles_ == other.profiles_;
}

}  // namespace l2n::target
