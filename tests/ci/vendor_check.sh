#!/usr/bin/env bash
# The vendored crates (vendor/README.md) are the published crates plus their .patch files,
# nothing else: download each published crate and compare.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for spec in polars-io:0.55.2 polars-parquet:0.55.2 polars-stream:0.55.2; do
  name="${spec%%:*}"; version="${spec##*:}"
  if ! curl -fsL "https://static.crates.io/crates/$name/$name-$version.crate" | tar xz -C "$tmp"; then
    echo "warning: could not download $name $version from crates.io; vendor/$name not checked"
    continue
  fi
  # (diff exits 1 when the trees differ, as they do by the patch)
  { diff -ru --exclude=.cargo_vcs_info.json --exclude=.cargo-ok "$tmp/$name-$version" "vendor/$name" || true; } |
    sed -E "s#$tmp/##; s/^(---|\+\+\+) ([^\t]+)\t.*/\1 \2/" >"$tmp/$name.patch"
  if diff -q "$tmp/$name.patch" "vendor/$name.patch" >/dev/null; then
    echo "vendor/$name: the published $name $version plus vendor/$name.patch"
  else
    echo "vendor/$name differs from the published $name $version plus vendor/$name.patch" >&2
    exit 1
  fi
done
