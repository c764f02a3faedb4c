#!/bin/sh
# Compiles (syntax and types only, nothing is linked) the Arduino adapters and
# the example sketch against signature stand-ins of arduino-esp32 2.x and 3.x,
# and the ESP-IDF adapters against stand-ins of ESP-IDF (test/sdk_standins/).
# Each side of the ESP_ARDUINO_VERSION_MAJOR switch is compiled where only its
# own SDK's names exist: 2.x has no NetworkClient, and the 3.x adapter build
# has no WiFi library on its path. Each uses the C++ standard that SDK's
# Arduino IDE build passes (a library cannot set its own there): gnu++11 in
# arduino-esp32 2.x, gnu++2b in 3.x; the ESP-IDF component asks for at least
# C++17 (CMakeLists.txt) and ESP-IDF 5.x builds gnu++2b. The core (src/*.cpp)
# is compiled as gnu++11 as well, against the host's mbedTLS, since the
# Arduino IDE builds it with the sketch's flags. This is not a build against
# the real SDKs.
#
# Prints `ok - ...` / `not ok - ...` per compile and, last, `N passed, M failed`.
cd "$(dirname "$0")/.." || exit 1
CXX=${CXX:-g++}
S=test/sdk_standins
FLAGS="-fsyntax-only -Wall -Wextra -Werror -Wshadow -fno-exceptions -fno-rtti -Isrc"
ARDUINO_SRC=$(ls src/arduino/*.cpp)
IDF_SRC=$(ls adapters/esp_idf/*.cpp)
out=build/test-output/sdk-check
mkdir -p "$out"
passed=0
failed=0

# compile NAME STD INCLUDE_DIRS FILES...: the files as C++ of that standard
# with those include directories; an .ino is C++ to the Arduino builder too.
compile() {
  name=$1
  std=$2
  dirs=$3
  shift 3
  includes=
  for d in $dirs; do includes="$includes -I$S/$d"; done
  log="$out/$(echo "$name" | tr ' /' '__').log"
  : > "$log"
  ok=1
  for f in "$@"; do
    $CXX -std=$std $FLAGS $includes -x c++ "$f" >> "$log" 2>&1 || ok=0
  done
  if [ $ok -eq 1 ]; then
    passed=$((passed + 1))
    echo "ok - $name"
  else
    failed=$((failed + 1))
    echo "not ok - $name"
    sed 's/^/    /' "$log"
  fi
}

compile "core as gnu++11 (arduino-esp32 2.x's standard)" gnu++11 "" src/*.cpp
compile "Arduino adapters, arduino-esp32 2.x (WiFiClient, gnu++11)" gnu++11 "arduino-2 arduino-common esp-idf" $ARDUINO_SRC
compile "Arduino adapters, arduino-esp32 3.x (NetworkClient, no WiFi library, gnu++2b)" gnu++2b "arduino-3 arduino-common esp-idf" $ARDUINO_SRC
compile "example sketch, arduino-esp32 2.x (WiFiClientSecure, gnu++11)" gnu++11 "arduino-2 arduino-common esp-idf" examples/esp32cam/esp32cam.ino
compile "example sketch, arduino-esp32 3.x (NetworkClientSecure, gnu++2b)" gnu++2b "arduino-3 arduino-3-wifi arduino-common esp-idf" examples/esp32cam/esp32cam.ino
compile "ESP-IDF adapters, gnu++17 (the component's minimum)" gnu++17 "esp-idf" $IDF_SRC
compile "ESP-IDF adapters, gnu++2b (ESP-IDF 5.x)" gnu++2b "esp-idf" $IDF_SRC

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
