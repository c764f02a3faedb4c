// A loopback HTTP server for unit tests: each connection's request (head
// and Content-Length body) is handed to a handler that returns the raw
// bytes to answer with, so tests can serve exactly the malformed responses
// a device must refuse.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

class CannedHttpServer {
 public:
  using Handler = std::function<std::string(const std::string& request)>;
  explicit CannedHttpServer(Handler handler);
  ~CannedHttpServer();
  std::string base_url() const;
  // Every request received, in order.
  std::vector<std::string> requests();

 private:
  void serve();
  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};
