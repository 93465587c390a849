// "Did you mean …?" for names a user typed: keys, targets, system configs, enum values.
//
// Contract: closest_name() returns the candidate with the smallest edit distance
// (Levenshtein, ASCII case-insensitive) to `typed`, or nothing when even the best
// candidate is too far away to be a plausible typo (more edits than a third of the
// longer name's length, with at least 2 edits always tolerated). Ties go to the earlier
// candidate, so callers list the most common names first.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace l2n::target {

std::size_t edit_distance(std::string_view a, std::string_view b);

std::optional<std::string> closest_name(std::string_view typed, std::span<const std::string_view> candidates);
std::optional<std::string> closest_name(std::string_view typed, std::span<const std::string> candidates);

// " (did you mean 'X'?)" or "" — ready to append to a message.
std::string did_you_mean(std::string_view typed, std::span<const std::string_view> candidates);
std::string did_you_mean(std::string_view typed, std::span<const std::string> candidates);

// "a, b, c" — for "allowed values are …" messages.
std::string join_names(std::span<const std::string_view> names, std::string_view separator = ", ");

}  // namespace l2n::target
