// A minimal test runner: each TEST is a case; CHECK failures are printed
// with their line and fail the case. The last line printed is
// `N passed, M failed`, which the Makefile adds up.
#pragma once

#include <cstdio>
#include <functional>
#include <vector>

namespace check {

struct Case {
  const char* name;
  std::function<void()> body;
};

inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}

inline bool& current_failed() {
  static bool failed = false;
  return failed;
}

struct Register {
  Register(const char* name, std::function<void()> body) { cases().push_back({name, std::move(body)}); }
};

inline int run_all() {
  int passed = 0, failed = 0;
  for (const Case& c : cases()) {
    current_failed() = false;
    c.body();
    if (current_failed()) {
      ++failed;
      printf("not ok - %s\n", c.name);
    } else {
      ++passed;
      printf("ok - %s\n", c.name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CONCAT2(a, b) a##b
#define CHECK_CONCAT(a, b) CHECK_CONCAT2(a, b)
#define TEST(name)                                                                   \
  static void CHECK_CONCAT(test_, __LINE__)();                                       \
  static check::Register CHECK_CONCAT(register_, __LINE__)(name, CHECK_CONCAT(test_, __LINE__)); \
  static void CHECK_CONCAT(test_, __LINE__)()

#define CHECK(cond)                                                         \
  do {                                                                      \
    if (!(cond)) {                                                          \
      printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);     \
      check::current_failed() = true;                                       \
    }                                                                       \
  } while (0)

#define CHECK_EQ_STR(a, b)                                                              \
  do {                                                                                  \
    const std::string check_a_ = (a), check_b_ = (b);                                   \
    if (check_a_ != check_b_) {                                                         \
      printf("  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, check_a_.c_str(), check_b_.c_str()); \
      check::current_failed() = true;                                                   \
    }                                                                                   \
  } while (0)
