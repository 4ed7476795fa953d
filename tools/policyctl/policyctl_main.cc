// policyctl: policyd's operator CLI (DESIGN §8). argv -> RunPolicyctl -> stdout, stderr, exit.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "policyctl/policyctl.h"

namespace {

// A request for explain: lines up to the first empty line after one that is not (the end of
// a policy request), or to EOF, so that typing a request at a terminal ends like Postfix's.
std::string ReadRequest() {
  if (isatty(STDIN_FILENO)) {
    std::fputs("policyctl: type name=value lines, then an empty line\n", stderr);
  }
  std::string text, line;
  bool started = false;
  while (std::getline(std::cin, line)) {
    text += line + "\n";
    if (!line.empty()) started = true;
    if (line.empty() && started) break;
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  policyd::admin::CliIo io;
  io.read_stdin = ReadRequest;
  int code = policyd::admin::RunPolicyctl(args, POLICYD_VERSION, io);
  std::fwrite(io.out.data(), 1, io.out.size(), stdout);
  std::fflush(stdout);
  std::fwrite(io.err.data(), 1, io.err.size(), stderr);
  return code;
}
