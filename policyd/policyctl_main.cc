// policyctl: policyd's operator CLI (DESIGN §8). argv -> RunPolicyctl -> stdout, stderr, exit.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "admin/policyctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  policyd::admin::CliIo io;
  io.read_stdin = [] {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  };
  int code = policyd::admin::RunPolicyctl(args, POLICYD_VERSION, io);
  std::fwrite(io.out.data(), 1, io.out.size(), stdout);
  std::fflush(stdout);
  std::fwrite(io.err.data(), 1, io.err.size(), stderr);
  return code;
}
