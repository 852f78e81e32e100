#!/bin/sh
# Seed the libFuzzer corpora from the vendors' example responses in fixtures/ (inputs only, not
# the *.expected.json outputs) and from the saved reproducers in fixtures/fuzz-regressions/.
# Idempotent; corpus/ is git-ignored. Run from anywhere.
set -eu
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
fixtures="$fuzz_dir/../fixtures"

for platform in taobao-tw taobao-enhanced vvtool pandapon-taobao pandapon-1688; do
    target="normalize_$(echo "$platform" | tr - _)"
    dir="$fuzz_dir/corpus/$target"
    mkdir -p "$dir"
    for f in "$fixtures/$platform"/*.json "$fixtures/fuzz-regressions/$platform"-*.json; do
        [ -f "$f" ] || continue
        case "$f" in *.expected.json) continue ;; esac
        cp "$f" "$dir/seed-$(basename "$f")"
    done
    echo "$target: $(ls "$dir" | wc -l) files"
done

# The signing target takes structured input from arbitrary bytes; a few seeds of printable
# text get it past the empty input quickly.
dir="$fuzz_dir/corpus/signing"
mkdir -p "$dir"
printf 'app_key\000123456\000timestamp\0001517820392000\000sign\000x' >"$dir/seed-params"
printf '\002\000\000\000order_id1234helloworld/order/get' >"$dir/seed-path"
echo "signing: $(ls "$dir" | wc -l) files"
