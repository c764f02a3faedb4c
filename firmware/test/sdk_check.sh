#!/bin/sh
# Compiles (syntax and types only, nothing is linked) the Arduino adapters and
# the example sketch against signature stand-ins of arduino-esp32 2.x and 3.x,
# and the ESP-IDF adapters against stand-ins of ESP-IDF (test/sdk_standins/).
# Each side of the ESP_ARDUINO_VERSION_MAJOR switch is compiled where only its
# own SDK's names exist: 2.x has no NetworkClient, and the 3.x adapter build
# has no WiFi library on its path. This is not a build against the real SDKs.
#
# Prints `ok - ...` / `not ok - ...` per compile and, last, `N passed, M failed`.
cd "$(dirname "$0")/.." || exit 1
CXX=${CXX:-g++}
S=test/sdk_standins
FLAGS="-std=gnu++17 -fsyntax-only -Wall -Wextra -Werror -Wshadow -fno-exceptions -fno-rtti -Isrc"
ARDUINO_SRC=$(ls src/arduino/*.cpp)
IDF_SRC=$(ls adapters/esp_idf/*.cpp)
out=build/test-output/sdk-check
mkdir -p "$out"
passed=0
failed=0

# compile NAME INCLUDE_DIRS FILES...: the files as C++ with those include
# directories; an .ino is C++ to the Arduino builder too.
compile() {
  name=$1
  dirs=$2
  shift 2
  includes=
  for d in $dirs; do includes="$includes -I$S/$d"; done
  log="$out/$(echo "$name" | tr ' /' '__').log"
  : > "$log"
  ok=1
  for f in "$@"; do
    $CXX $FLAGS $includes -x c++ "$f" >> "$log" 2>&1 || ok=0
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

compile "Arduino adapters, arduino-esp32 2.x (WiFiClient)" "arduino-2 arduino-common esp-idf" $ARDUINO_SRC
compile "Arduino adapters, arduino-esp32 3.x (NetworkClient, no WiFi library)" "arduino-3 arduino-common esp-idf" $ARDUINO_SRC
compile "example sketch, arduino-esp32 2.x (WiFiClientSecure)" "arduino-2 arduino-common esp-idf" examples/esp32cam/esp32cam.ino
compile "example sketch, arduino-esp32 3.x (NetworkClientSecure)" "arduino-3 arduino-3-wifi arduino-common esp-idf" examples/esp32cam/esp32cam.ino
compile "ESP-IDF adapters (esp_http_client, esp_ota_ops, nvs)" "esp-idf" $IDF_SRC

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
