// The names a sender domain may be listed under, as _common.lua domain_candidates makes them
// (one list, two readers in C++: the cluster's access reads fetch those fields and members,
// and the report page's guidance looks up which of them an account has).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace policyd {

// _common.lua domain_candidates, the same list in the same order: the domain, then '*.' and
// each parent ('*.a.example.com', '*.example.com', '*.com'), with_parents adding the bare
// parents after each ('example.com', 'com'). The Lua function stays the one that decides; a
// store test checks that both agree over a table of domains
// (test/store/cluster_decision/cluster_access_test.cc).
std::vector<std::string> DomainCandidates(std::string_view domain, bool with_parents);

}  // namespace policyd
