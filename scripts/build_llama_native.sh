#!/usr/bin/env bash
# llama.cpp's own binaries (llama-bench, llama-lookup, llama-lookup-create, llama-server), for the native
# rows of `scotd bench decode --task ...`. Built from the llama.cpp tree vendored in the llama-cpp-python
# 0.3.36 sdist (PyPI serves it; GitHub is not needed), so the rows run the same llama.cpp as the binding.
# Never a default dependency: about 20 minutes on 2 cores, CPU-bound. Rerunning resumes the build.
#
#   bash scripts/build_llama_native.sh            # -> ${SCOTD_CACHE:-~/.cache/scotd}/llama-native/bin-<ISA>
#   SCOTD_LLAMA_BIN=/path/to/bin scotd bench decode ...   # or point the bench at binaries built elsewhere
set -euo pipefail
VERSION=0.3.36
ROOT="${SCOTD_CACHE:-$HOME/.cache/scotd}/llama-native"
SRC="$ROOT/src/llama_cpp_python-$VERSION/vendor/llama.cpp"
# GGML_NATIVE tunes the build to this CPU: one build per instruction set, so a cache shared across CPU
# kinds never hands an AMX build to an AVX2-only machine
FLAGS=$(grep -m1 '^flags' /proc/cpuinfo)
ISA=$(for isa in amx_bf16 avx512_bf16 avx512f avx2; do [[ " $FLAGS " == *" $isa "* ]] && { echo "$isa"; break; }; done)
ISA=${ISA:-generic}
BIN="$ROOT/bin-$ISA"
mkdir -p "$ROOT/src" "$BIN"
if [ ! -f "$SRC/CMakeLists.txt" ]; then
    if [ ! -f "$ROOT/llama_cpp_python-$VERSION.tar.gz" ]; then
        python3 -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$ROOT"
    fi
    tar -xzf "$ROOT/llama_cpp_python-$VERSION.tar.gz" -C "$ROOT/src"
fi
command -v cmake >/dev/null || python3 -m pip install -q cmake
cmake -S "$SRC" -B "$ROOT/build-$ISA" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
      -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF >"$ROOT/cmake.log"
cmake --build "$ROOT/build-$ISA" -j "${JOBS:-$(nproc)}" \
      --target llama-bench llama-lookup llama-lookup-create llama-server
for tool in llama-bench llama-lookup llama-lookup-create llama-server; do
    cp "$ROOT/build-$ISA/bin/$tool" "$BIN/"
done
echo "llama.cpp binaries in $BIN (CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
