#!/usr/bin/env bash
# Build .devpack/ (git-ignored) for benchmarks/device/gpu_queue.sh: the wheels a bare Python 3.12 GPU image lacks and
# the git-ignored data, compressed. Run from the repository root on a machine with pip access to PyPI:
#   bash benchmarks/device/pack.sh
set -eu
grep -qs '^/.devpack/' .git/info/exclude || echo '/.devpack/' >> .git/info/exclude
mkdir -p .devpack/whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .devpack/whl numpy==1.26.4 pandas==2.3.3
python3 -m pip download -q --no-deps -d .devpack/whl recbole==1.2.1 colorlog==6.8.2 texttable pytz tzdata
# ML-1M is derived from GroupLens data (never committed): it travels compressed, with beauty's largest files
[ -f dataset/ml1m/ml1m.train.inter ] && tar -cJf .devpack/ml1m.tar.xz dataset/ml1m/ml1m.* dataset/ml1m/offline_all
tar -cJf .devpack/beauty_big.tar.xz dataset/beauty/beauty.itememb dataset/beauty/beauty.llm4sbr dataset/beauty/beauty.dmsrec
du -sh .devpack
