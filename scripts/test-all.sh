#!/usr/bin/env bash
# Runs every kskit test. Installs the real peers the tests use when they are
# missing (SoftHSM2, Knot DNS, BIND's tools, unbound-host, libfaketime, ldns, man-db, zsh, fish,
# Chromium, systemd), runs cargo test
# (reproducible build and Debian package) unless test arguments were given.
# Needs root (or sudo) for apt-get on a fresh Debian/Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/sbin:/sbin"
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need softhsm2-util softhsm2
need keymgr knot
need knotd knot
need kdig knot-dnsutils
need delv bind9-dnsutils
need dig bind9-dnsutils
need dnssec-verify bind9-utils
# tests/soak_years.rs: the validator at a simulated time, the servers under libfaketime
need unbound-host unbound-host
need dnssec-signzone bind9-utils
need ldns-verify-zone ldnsutils
need kzonecheck knot-dnssecutils
need kzonesign knot-dnssecutils
need ldns-signzone ldnsutils
need ldns-keygen ldnsutils
need ldns-key2ds ldnsutils
need dnssec-keygen bind9-utils
# tests/verify_zone.rs: Knot's zone signer and checker
need kzonesign knot-dnssecutils
need kzonecheck knot-dnssecutils
need openssl openssl
# script(1) gives tests/secrets_in_memory.rs' signer a terminal
need script bsdutils
need pkcs11-tool opensc
need man man-db
need groff groff-base
need zsh zsh
need fish fish
need chromium chromium
need systemd-analyze systemd
[ -e /usr/lib/softhsm/libsofthsm2.so ] || missing+=(softhsm2)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || missing+=(libfaketime)
# p11-kit's proxy module (tests/cycle_softhsm.rs *_through_p11kit_proxy)
[ -e /usr/lib/x86_64-linux-gnu/p11-kit-proxy.so ] || missing+=(p11-kit p11-kit-modules)
# A TPM token (tests/tpm_token.rs): swtpm, tpm2-abrmd on a private D-Bus
# session bus (its TCTI is libtss2-tcti-tabrmd0), tpm2_ptool, tpm2-pkcs11.
need swtpm swtpm
need swtpm_setup swtpm-tools
need tpm2-abrmd tpm2-abrmd
need tpm2_getcap tpm2-tools
need tpm2_ptool libtpm2-pkcs11-tools
need dbus-daemon dbus
[ -e /usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1 ] || missing+=(libtpm2-pkcs11-1)
[ -e /usr/lib/x86_64-linux-gnu/libtss2-tcti-tabrmd.so.0 ] || missing+=(libtss2-tcti-tabrmd0)

if [ "${#missing[@]}" -gt 0 ]; then
  # shellcheck disable=SC2207
  pkgs=($(printf '%s\n' "${missing[@]}" | sort -u))
  echo "test-all: installing ${pkgs[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
fi

cargo test --locked "$@"

# Release checks (slow, ~15 minutes on two cores): two release builds of HEAD
# from two directories must be byte-identical, then the Debian package from
# the first build is installed with dpkg, runs kskit demo, and its units pass
# systemd-analyze verify. Skipped only when test arguments select tests.
if [ "$#" -eq 0 ]; then
  ./scripts/test-release.sh
fi
