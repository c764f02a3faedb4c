// Signature stand-in for arduino-esp32 2.x's HTTPClient.h: begin() takes and
// getStreamPtr() returns a WiFiClient. See ../README.md.
#pragma once

#include "Arduino.h"
#include "WiFiClient.h"
#include "WiFiClientSecure.h"

typedef enum { HTTPC_DISABLE_FOLLOW_REDIRECTS, HTTPC_STRICT_FOLLOW_REDIRECTS, HTTPC_FORCE_FOLLOW_REDIRECTS } followRedirects_t;

class HTTPClient {
 public:
  HTTPClient();
  ~HTTPClient();
  bool begin(WiFiClient& client, String url);
  void end(void);
  void setReuse(bool reuse);
  void setUserAgent(const String& userAgent);
  void setTimeout(uint16_t timeout);
  void setFollowRedirects(followRedirects_t follow);
  int sendRequest(const char* type, String payload);
  int sendRequest(const char* type, uint8_t* payload = NULL, size_t size = 0);
  int sendRequest(const char* type, Stream* stream, size_t size = 0);
  void addHeader(const String& name, const String& value, bool first = false, bool replace = true);
  void collectHeaders(const char* headerKeys[], const size_t headerKeysCount);
  String header(const char* name);
  bool hasHeader(const char* name);
  WiFiClient& getStream(void);
  WiFiClient* getStreamPtr(void);
};
