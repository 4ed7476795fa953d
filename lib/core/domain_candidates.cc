#include "core/domain_candidates.h"

namespace policyd {

std::vector<std::string> DomainCandidates(std::string_view domain, bool with_parents) {
  std::vector<std::string> out{std::string(domain)};
  std::string_view rest = domain;
  while (!rest.empty()) {
    out.push_back("*." + std::string(rest));
    std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
    if (with_parents) out.emplace_back(rest);
  }
  return out;
}

}  // namespace policyd
