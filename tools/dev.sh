#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Set up a Debian 12 machine for libgpuvm and run something.
#   tools/dev.sh deps   install what is missing (idempotent; root or sudo)
#   tools/dev.sh test   deps + configure build/ + run the test suites
#   tools/dev.sh demo   deps + configure build/ + run the main demo
# BUILD_DIR (default build) and MESON_ARGS (extra setup options) may be set.
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

packages=(gcc g++ meson ninja-build pkg-config libcmocka-dev liburcu-dev
	  libbsd-dev)

install_deps() {
	local missing=()
	local rust=()
	local p
	# The Rust crate's tests (rust/) need cargo 1.85 or later: Debian 12's
	# own cargo is older, its -web packages are new enough. A cargo already
	# on PATH (rustup's, say) is used as it is.
	command -v cargo >/dev/null 2>&1 || rust=(cargo-web rustc-web)
	for p in "${packages[@]}" "${rust[@]}" "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	local sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		--no-install-recommends "${missing[@]}"
}

configure() {
	# shellcheck disable=SC2086
	if [ -f "$build_dir/build.ninja" ]; then
		meson setup --reconfigure "$build_dir" ${MESON_ARGS:-}
	else
		meson setup "$build_dir" ${MESON_ARGS:-}
	fi
	ninja -C "$build_dir"
}

case "${1:-test}" in
deps)
	shift
	install_deps "$@"
	;;
test)
	install_deps
	configure
	meson test -C "$build_dir" --print-errorlogs
	;;
demo)
	install_deps
	configure
	if [ -x "$build_dir/tools/replay/gpuvm-replay" ]; then
		"$build_dir/tools/replay/gpuvm-replay" --demo
	else
		"$build_dir/examples/lockdep-demo"
	fi
	;;
*)
	echo "usage: $0 deps|test|demo" >&2
	exit 2
	;;
esac
