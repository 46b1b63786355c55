#!/usr/bin/env bash
# Installs what the workspace needs on a Debian/Ubuntu machine that has rustup and cargo.
# Idempotent: does nothing when everything is present. When it cannot install (not root and
# no password-less sudo, or not Debian/Ubuntu) it prints the exact command and exits 1.
set -euo pipefail

# Debian packages, in one place. Add a crate's system needs here.
PACKAGES=(
    pkg-config      # finds system libraries for -sys crates
    libopenblas-dev # BLAS/LAPACK for ndarray-linalg (examples-simd, feature openblas-system)
    mpich           # mpiexec (Hydra) and the MPI runtime (examples-distributed)
    libmpich-dev    # MPI headers and mpicc, which rsmpi's build script asks for the flags
    libclang-dev    # bindgen, which rsmpi uses to read mpi.h
)

say() { printf 'setup: %s\n' "$*" >&2; }

# --- Rust components used by scripts/test.sh
for component in rustfmt clippy; do
    sub=${component/rustfmt/fmt}
    if ! cargo "$sub" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1 && rustup component add "$component" >/dev/null 2>&1; then
            say "installed the $component component"
        else
            say "cargo $sub is missing and could not be installed; run: rustup component add $component"
            exit 1
        fi
    fi
done

# --- Debian packages
if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    say "this is not a Debian/Ubuntu system (no dpkg-query/apt-get)."
    say "install the equivalents of: ${PACKAGES[*]}; then run this again."
    exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    say "system packages present (${PACKAGES[*]})"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo)
else
    say "missing Debian packages: ${missing[*]}"
    say "this script is not root and cannot use sudo without a password; run:"
    say "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
fi

say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
    say "apt-get failed to install: ${missing[*]} (see above)."
    say "fix the package sources or network, then run: ${sudo[*]:+${sudo[*]} }apt-get install -y ${missing[*]}"
    exit 1
fi
say "installed ${missing[*]}"
