#include "target/closest_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace l2n::target {

namespace {

char fold(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

template <typename Names>
std::optional<std::string> closest_in(std::string_view typed, const Names& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    const std::size_t distance = edit_distance(typed, candidate);
    if (!best || distance < best_distance) {
      best = std::string(candidate);
      best_distance = distance;
    }
  }
  if (!best) return std::nullopt;
  const std::size_t longer = std::max(typed.size(), best->size());
  const std::size_t tolerance = std::max<std::size_t>(2, longer / 3);
  if (best_distance > tolerance) return std::nullopt;
  return best;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::optional<std::string> closest_name(std::string_view typed, std::span<const std::string_view> candidates) {
  return closest_in(typed, candidates);
}

std::optional<std::string> closest_name(std::string_view typed, std::span<const std::string> candidates) {
  return closest_in(typed, candidates);
}

std::string did_you_mean(std::string_view typed, std::span<const std::string_view> candidates) {
  const auto best = closest_name(typed, candidates);
  return best ? fmt::format(" (did you mean '{}'?)", *best) : std::string();
}

std::string did_you_mean(std::string_view typed, std::span<const std::string> candidates) {
  const auto best = closest_name(typed, candidates);
  return best ? fmt::format(" (did you mean '{}'?)", *best) : std::string();
}

std::string join_names(std::span<const std::string_view> names, std::string_view separator) {
  std::string joined;
  for (const auto& name : names) {
    if (!joined.empty()) joined += separator;
    joined += name;
  }
  return joined;
}

}  // namespace l2n::target
