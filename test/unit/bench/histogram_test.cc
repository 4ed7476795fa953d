// The latency histogram keeps every value within its stated relative error and reports
// percentiles the way HdrHistogram does.
#include "bench/histogram.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>

namespace policyd::bench {

TEST_CASE("histogram: small values are exact, large ones within 1/128") {
  for (uint64_t v : std::initializer_list<uint64_t>{0, 1, 255, 256, 1000, 123456, 987654321,
                     Histogram::kMaxValue}) {
    std::size_t i = Histogram::IndexOf(v);
    CHECK(Histogram::LowestOf(i) <= v);
    CHECK(Histogram::HighestOf(i) >= v);
    if (v < 256) CHECK(Histogram::LowestOf(i) == Histogram::HighestOf(i));
    double width = static_cast<double>(Histogram::HighestOf(i) - Histogram::LowestOf(i) + 1);
    if (v >= 256) CHECK(width / static_cast<double>(v) <= 1.0 / 128 + 1e-12);
  }
}

TEST_CASE("histogram: bucket indexes are contiguous and increasing") {
  for (std::size_t i = 1; i < Histogram::IndexOf(Histogram::kMaxValue); ++i) {
    REQUIRE(Histogram::LowestOf(i) == Histogram::HighestOf(i - 1) + 1);
  }
}

TEST_CASE("histogram: percentiles of 1..1000") {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.Record(v * 1000);
  CHECK(h.count() == 1000);
  CHECK(h.min() == 1000);
  CHECK(h.max() == 1000000);
  CHECK(h.mean() == doctest::Approx(500500.0));
  auto near = [](uint64_t got, double want) { return got >= want && got <= want * 1.008; };
  CHECK(near(h.Percentile(50), 500000));
  CHECK(near(h.Percentile(99), 990000));
  CHECK(near(h.Percentile(99.9), 999000));
  CHECK(h.Percentile(100) == 1000000);
  CHECK(near(h.Percentile(0), 1000));
}

TEST_CASE("histogram: empty, clamped and merged") {
  Histogram h;
  CHECK(h.Percentile(99) == 0);
  CHECK(h.max() == 0);
  h.Record(Histogram::kMaxValue + 12345);
  CHECK(h.max() == Histogram::kMaxValue);
  Histogram other;
  other.Record(7);
  h.Merge(other);
  CHECK(h.count() == 2);
  CHECK(h.min() == 7);
  CHECK(h.Percentile(50) == 7);
}

}  // namespace policyd::bench
