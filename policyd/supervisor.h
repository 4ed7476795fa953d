// The process: [server] threads event loops (ServingLoop: the policy Server and, on the first,
// the HttpServer over one shared LoopContext), each on its own thread, and the main
// thread, which owns the signals. SIGHUP loads the config once and hands the snapshot to
// every loop; SIGTERM/SIGINT asks every loop to drain; the process exits 0 when all have.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "serving_loop.h"
#include "store/loop_context.h"

namespace policyd {

class Supervisor {
 public:
  Supervisor(std::shared_ptr<const Config> config, std::string config_path);
  ~Supervisor();

  // Creates and starts every loop (listeners bound, Redis connecting); an error names what
  // failed and nothing is left running.
  Status Start();
  // Runs until every loop has drained after SIGTERM/SIGINT; returns the exit code.
  int Run();

 private:
  void Reload();
  void Shutdown();

  uv_loop_t loop_;
  std::shared_ptr<const Config> config_;
  std::string config_path_;
  SharedState shared_;
  std::vector<std::unique_ptr<ServingLoop>> loops_;
  std::vector<std::thread> threads_;
  uv_signal_t sighup_, sigterm_, sigint_;
};

}  // namespace policyd
