// Signature stand-in for arduino-esp32's Arduino.h (2.x and 3.x): the pieces
// the adapters and the example use. See ../README.md.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LOW 0x0

class String {
 public:
  String(const char* cstr = "");
  String(const String& other);
  String& operator=(const String& other);
  ~String();
  const char* c_str() const;
  bool operator==(const char* cstr) const;
  bool operator!=(const char* cstr) const;
  friend String operator+(const String& lhs, const char* rhs);
};

class Print {
 public:
  virtual ~Print();
  virtual size_t write(uint8_t) = 0;
  virtual size_t write(const uint8_t* buffer, size_t size);
  size_t printf(const char* format, ...) __attribute__((format(printf, 2, 3)));
  size_t println(const char[]);
};

class Stream : public Print {
 public:
  virtual int available() = 0;
  virtual int read() = 0;
  virtual int peek() = 0;
};

class Client : public Stream {
 public:
  virtual uint8_t connected() = 0;
  virtual void stop() = 0;
};

class HardwareSerial : public Stream {
 public:
  void begin(unsigned long baud);
  size_t write(uint8_t) override;
  int available() override;
  int read() override;
  int peek() override;
};
extern HardwareSerial Serial;

class EspClass {
 public:
  void restart();
};
extern EspClass ESP;

unsigned long millis();
void delay(uint32_t ms);
void configTime(long gmtOffset_sec, int daylightOffset_sec, const char* server1, const char* server2 = nullptr,
                const char* server3 = nullptr);
