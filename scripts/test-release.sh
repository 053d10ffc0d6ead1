#!/usr/bin/env bash
# Release checks (slow; scripts/test-all.sh runs it after cargo test):
#  1. reproducible binary: two release builds of HEAD, from two different
#     directories, must be byte-identical (issue 18 point 3);
#  2. Debian package: cargo-deb packages the first build's binary (no third
#     build), dpkg installs it, `kskit demo` runs from it, and
#     `systemd-analyze verify` accepts the units (issue 18 point 2).
# Prints one PASS/FAIL line per part; exits non-zero if any part fails.
# Builds what is committed (git archive HEAD), not the work tree.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export PATH="$PATH:/usr/sbin:/sbin:$HOME/.cargo/bin"

commit=$(git rev-parse HEAD)
work=$(mktemp -d /tmp/kskit-release.XXXXXX)
keep="${KSKIT_KEEP_RELEASE_DIR:-}"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"

# Build HEAD in DIR with every build path remapped to fixed names: the
# source tree, CARGO_HOME (registry sources) and the toolchain; C code (ring)
# gets the same through -ffile-prefix-map. SOURCE_DATE_EPOCH pins any time.
build() {
    local dir=$1
    mkdir -p "$dir"
    git archive "$commit" | tar -x -C "$dir"
    (
        cd "$dir"
        export KSKIT_BUILD_COMMIT="$commit"
        export SOURCE_DATE_EPOCH
        SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct "$commit")
        export CARGO_TARGET_DIR="$dir/target"
        export RUSTFLAGS="--remap-path-prefix=$dir=/build/kskit --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$rustup_home=/rustup"
        export CFLAGS="-ffile-prefix-map=$dir=/build/kskit -ffile-prefix-map=$cargo_home=/cargo"
        nice -n 5 cargo build --locked --release --bin kskit
    )
}

fail=0
a="$work/a"
b="$work/build-b-in-a-longer-directory"
echo "test-release: building $commit in $a and $b"
build "$a" >"$work/build-a.log" 2>&1 || { tail -50 "$work/build-a.log"; echo "test-release: FAIL reproducible build (build A failed)"; exit 1; }
build "$b" >"$work/build-b.log" 2>&1 || { tail -50 "$work/build-b.log"; echo "test-release: FAIL reproducible build (build B failed)"; exit 1; }
ha=$(sha256sum "$a/target/release/kskit" | cut -d' ' -f1)
hb=$(sha256sum "$b/target/release/kskit" | cut -d' ' -f1)
if [ "$ha" = "$hb" ]; then
    echo "test-release: PASS reproducible build: both builds are SHA-256 $ha"
else
    echo "test-release: FAIL reproducible build: $ha != $hb"
    cmp -l "$a/target/release/kskit" "$b/target/release/kskit" | head -5 || true
    strings -a "$a/target/release/kskit" | grep -F "$work" | head -5 || true
    fail=1
fi
if strings -a "$a/target/release/kskit" | grep -qF "$a"; then
    echo "test-release: FAIL the binary contains its build directory $a"
    fail=1
fi
"$a/target/release/kskit" version --verbose | tee "$work/version.txt"
grep -q "$commit" "$work/version.txt" || { echo "test-release: FAIL version --verbose lacks the commit"; fail=1; }
lock=$(sha256sum "$repo/Cargo.lock" | cut -d' ' -f1)
git -C "$repo" diff --quiet "$commit" -- Cargo.lock && { grep -q "$lock" "$work/version.txt" || { echo "test-release: FAIL version --verbose lacks the Cargo.lock SHA-256"; fail=1; }; }

# The Debian package, from build A's binary.
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null; }
need_pkg systemd
need_pkg adduser
command -v cargo-deb >/dev/null || nice -n 5 cargo install --locked cargo-deb
(
    cd "$a"
    ./scripts/build-assets.sh target/release/kskit
    cargo deb --no-build --no-strip --output "$work/deb/" 
) >"$work/deb.log" 2>&1 || { tail -40 "$work/deb.log"; echo "test-release: FAIL Debian package (cargo deb)"; exit 1; }
deb=$(ls "$work"/deb/*.deb)
echo "test-release: built $deb"
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; echo "test-release: FAIL dpkg -i"; exit 1; }
pkg_ok=1
[ "$(sha256sum /usr/bin/kskit | cut -d' ' -f1)" = "$ha" ] || { echo "test-release: FAIL the installed /usr/bin/kskit is not build A's binary"; pkg_ok=0; }
for f in /usr/share/man/man1/kskit-ksr-sign.1* /usr/share/bash-completion/completions/kskit /usr/share/zsh/vendor-completions/_kskit \
         /usr/share/fish/vendor_completions.d/kskit.fish /usr/share/doc/kskit/examples/kskit.toml /usr/share/kskit/ceremony-scripts/ksr-sign.toml \
         /lib/systemd/system/kskit-rollover-step.service /lib/systemd/system/kskit-rollover-step.timer \
         /lib/systemd/system/kskit-check.service /lib/systemd/system/kskit-check.timer; do
    [ -e "$f" ] || { echo "test-release: FAIL the package lacks $f"; pkg_ok=0; }
done
getent passwd kskit >/dev/null || { echo "test-release: FAIL postinst did not create the kskit user"; pkg_ok=0; }
(cd /tmp && /usr/bin/kskit demo >"$work/demo.log" 2>&1) || { tail -20 "$work/demo.log"; echo "test-release: FAIL kskit demo from the package"; pkg_ok=0; }
MANWIDTH=80 man --warnings -l /usr/share/man/man1/kskit-ksr-sign.1* >/dev/null 2>"$work/man.err" && [ ! -s "$work/man.err" ] || { cat "$work/man.err"; echo "test-release: FAIL man kskit-ksr-sign"; pkg_ok=0; }
if systemd-analyze verify /lib/systemd/system/kskit-rollover-step.service /lib/systemd/system/kskit-rollover-step.timer \
       /lib/systemd/system/kskit-check.service /lib/systemd/system/kskit-check.timer >"$work/verify.log" 2>&1 \
   && ! grep -i "kskit" "$work/verify.log"; then
    :
else
    cat "$work/verify.log"; echo "test-release: FAIL systemd-analyze verify"; pkg_ok=0
fi
dpkg -r kskit >/dev/null 2>&1 || true
if [ "$pkg_ok" = 1 ]; then
    echo "test-release: PASS Debian package: installs, runs kskit demo, units verify"
else
    fail=1
fi
exit "$fail"
