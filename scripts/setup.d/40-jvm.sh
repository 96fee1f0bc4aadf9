#!/usr/bin/env bash
# The JVM toolchain for android_demo/core (javac + JUnit 4 + Hamcrest), from Debian, idempotently.
set -euo pipefail
have() { [ -x "$(command -v javac)" ] && [ -f /usr/share/java/junit4.jar ] && [ -f /usr/share/java/hamcrest.jar ]; }
have && exit 0
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
  echo "setup: 40-jvm: not root and no sudo; install default-jdk-headless junit4 libhamcrest-java yourself" >&2
  exit 0  # the JVM tests skip, saying why; the rest of mobilecomp does not need a JDK
fi
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq --no-install-recommends default-jdk-headless junit4 libhamcrest-java >/dev/null \
  || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends \
         default-jdk-headless junit4 libhamcrest-java >/dev/null; }
have
