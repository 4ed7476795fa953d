// policyctl as a function: argv in, exit status, standard output and standard error out.
// tools/policyctl/policyctl_main.cc only wires it to the process; tests of the CLI run the binary.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace policyd::admin {

struct CliIo {
  std::function<std::string()> read_stdin;  // a request from standard input (explain)
  std::string out;                          // for standard output
  std::string err;                          // for standard error
};

// args: argv without argv[0]. Returns the exit status: 0 ok, 1 not found or refused,
// 2 usage or configuration error, 3 Redis unreachable.
int RunPolicyctl(const std::vector<std::string>& args, std::string_view version, CliIo& io);

}  // namespace policyd::admin
