// Signature stand-in for arduino-esp32 3.x's NetworkClientSecure.h. See ../README.md.
#pragma once

#include "Network.h"

class NetworkClientSecure : public NetworkClient {
 public:
  NetworkClientSecure();
  ~NetworkClientSecure();
  void setCACert(const char* rootCA);
};
