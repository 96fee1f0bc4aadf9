#!/usr/bin/env bash
# Compiles the JVM core (javac --release 8: the APIs Android minSdk 24 has) and runs its JUnit 4
# tests, the tokenizer-parity test included. Exit status is JUnit's: non-zero on any failure.
#
#   android_demo/core/run-tests.sh VECTORS BUNDLE [VECTORS BUNDLE ...]
#     VECTORS  file from `mobilecomp tokenizer-vectors BUNDLE --out VECTORS`
#     BUNDLE   the bundle directory (manifest.json, tokenizer/); one pair per tokenizer kind
#   android_demo/core/run-tests.sh --check BUNDLE...
#     opens each BUNDLE as the app does; one line each: its tokenizer kind, or why it is refused
#   env: BUILD_DIR (default android_demo/core/build/javac), JUNIT_CP (default Debian's junit4 +
#        hamcrest jars), MIN_REAL (real-text vectors required per file, default 500),
#        APP_RESULT_OUT (also write the sample app result JSON there, from the first bundle),
#        DECODE_VECTORS / DECODE_BUNDLES (files from `mobilecomp decode-vectors`, joined by ':', and each
#        one's bundle or '-'; DecodeVectorsTest checks the core's decoders on them, skipped without)
set -euo pipefail
usage() { sed -n '5,15p' "$0" >&2; exit 2; }
CORE=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-$CORE/build/javac}
command -v javac >/dev/null || { echo "run-tests.sh: no javac; run scripts/setup.d/40-jvm.sh" >&2; exit 3; }
compile_main() {
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR/classes" "$BUILD_DIR/test-classes"
  find "$CORE/src/main/java" -name '*.java' > "$BUILD_DIR/main.txt"
  javac --release 8 -Xlint:all,-options -Werror -encoding UTF-8 -d "$BUILD_DIR/classes" @"$BUILD_DIR/main.txt"
}
if [ "${1:-}" = "--check" ]; then
  [ $# -ge 2 ] || usage
  shift
  compile_main
  exec java -cp "$BUILD_DIR/classes" io.mobilecomp.core.BundleCheck "$@"
fi
if [ $# -lt 2 ] || [ $(($# % 2)) -ne 0 ]; then
  usage
fi
VECTORS=() BUNDLES=()
while [ $# -gt 0 ]; do
  VECTORS+=("$(readlink -f "$1")"); BUNDLES+=("$(readlink -f "$2")"); shift 2
done
ALL_VECTORS=$(IFS=:; echo "${VECTORS[*]}")
ALL_BUNDLES=$(IFS=:; echo "${BUNDLES[*]}")
JUNIT_CP=${JUNIT_CP:-/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar:/usr/share/java/hamcrest.jar}
for jar in ${JUNIT_CP//:/ }; do
  [ -f "$jar" ] || { echo "run-tests.sh: $jar missing; run scripts/setup.d/40-jvm.sh" >&2; exit 3; }
done

compile_main
find "$CORE/src/test/java" -name '*.java' > "$BUILD_DIR/test.txt"
javac -encoding UTF-8 -nowarn -d "$BUILD_DIR/test-classes" -cp "$BUILD_DIR/classes:$JUNIT_CP" @"$BUILD_DIR/test.txt"
TESTS=$(cd "$CORE/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
exec java -Dmobilecomp.vectors="${VECTORS[0]}" -Dmobilecomp.bundle="${BUNDLES[0]}" \
  -Dmobilecomp.allVectors="$ALL_VECTORS" -Dmobilecomp.allBundles="$ALL_BUNDLES" -Dmobilecomp.minReal="${MIN_REAL:-500}" \
  -Dmobilecomp.appResultOut="${APP_RESULT_OUT:-}" \
  -Dmobilecomp.decodeVectors="${DECODE_VECTORS:-}" -Dmobilecomp.decodeBundles="${DECODE_BUNDLES:-}" \
  -cp "$BUILD_DIR/classes:$BUILD_DIR/test-classes:$JUNIT_CP" org.junit.runner.JUnitCore $TESTS
