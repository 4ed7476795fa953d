// Strict UTF-8 decoding for text customers write and pages show (core/page_template.h
// EscapeText, core/report_guidance.h CheckReviewText): one rule for what counts as valid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace policyd {

// The length (2-4) of the valid UTF-8 sequence starting at text[i], a non-ASCII byte, with its
// code point in *cp; 0 for an invalid, cut, overlong or surrogate sequence.
std::size_t Utf8Sequence(std::string_view text, std::size_t i, uint32_t* cp);

}  // namespace policyd
