#!/usr/bin/env bash
# Generates what the Debian package ships besides the binary, from the
# binary itself: man pages, bash/zsh/fish completions, an example
# kskit.toml. Usage: scripts/build-assets.sh [KSKIT_BINARY] (default
# target/release/kskit); writes target/assets/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/kskit}"
out=target/assets
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
"$bin" manpages "$out/man" >/dev/null
"$bin" completions bash >"$out/completions/kskit"
"$bin" completions zsh >"$out/completions/_kskit"
"$bin" completions fish >"$out/completions/kskit.fish"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" init "$tmp/example" --zone example.com >/dev/null
cp "$tmp/example/kskit.toml" "$out/kskit.toml"
echo "build-assets: $(ls "$out/man" | wc -l) man pages, 3 completions, example kskit.toml in $out"
