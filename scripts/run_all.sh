#!/usr/bin/env bash
# The main job: setup, one build, then every section of every example crate, measured, into
# results/<UTC time>/ (results.jsonl, REPORT.md, charts/*.svg); results/latest points at it.
#
#   scripts/run_all.sh                 the tutorials' sizes (<= 5 min on 2 cores after the build)
#   scripts/run_all.sh --quick         small sizes, a fast pass (<= 60 s on 2 cores after the build)
#   scripts/run_all.sh --with-python   also run python/ on the same machine (creates python/.venv)
#
# Other flags: --scale S (the tutorials' sleeps times S; the default is printed), --dev (reuse
# the debug build of `cargo test` instead of a release build: for CI, timings not meaningful),
# --only CRATE/SECTION (repeatable), --results DIR (default results).
# Exits non-zero, naming the sections, when any section fails or any of its checks fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The example crates that are workspace members, in running order. examples-distributed
# re-launches itself under `mpiexec` (cores + 1 ranks) when started plainly, as here.
CRATES=(examples-threads examples-processes examples-async examples-simd examples-distributed)

# Sleep scales (--scale). The full run keeps the tutorials' sizes but shortens their sleeps so
# that the whole run stays inside 5 minutes on 2 cores. Under --quick every section already
# shrinks its sizes and sleeps itself, so the scale stays 1.
FULL_SCALE=0.25
QUICK_SCALE=1

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
die() { printf 'run_all: %s\n' "$*" >&2; exit 2; }

quick=0 python=0 dev=0 scale="" results=results only=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=1 ;;
        --with-python) python=1 ;;
        --dev) dev=1 ;;
        --scale) [[ $# -ge 2 ]] || die "--scale needs a value"; scale=$2; shift ;;
        --scale=*) scale=${1#*=} ;;
        --results) [[ $# -ge 2 ]] || die "--results needs a directory"; results=$2; shift ;;
        --only) [[ $# -ge 2 ]] || die "--only needs CRATE/SECTION"; only+=(--only "$2"); shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done
if [[ -z "$scale" ]]; then
    if [[ $quick -eq 1 ]]; then scale=$QUICK_SCALE; else scale=$FULL_SCALE; fi
fi

scripts/setup.sh

# --- Python on the same machine (opt-in): a virtual environment with pinned packages.
setup_python() {
    local venv=python/.venv
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        local pkgs=(python3 python3-venv)
        local sudo=()
        if [[ $(id -u) -ne 0 ]]; then
            if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo); else
                printf 'run_all: --with-python needs Python 3 with venv; run:\n  sudo apt-get update && sudo apt-get install -y %s\n' "${pkgs[*]}" >&2
                exit 1
            fi
        fi
        if ! command -v apt-get >/dev/null 2>&1; then
            printf 'run_all: --with-python needs Python 3 with the venv module (Debian: %s)\n' "${pkgs[*]}" >&2
            exit 1
        fi
        printf 'run_all: installing %s\n' "${pkgs[*]}" >&2
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
    fi
    if [[ ! -x $venv/bin/python ]]; then
        printf 'run_all: creating %s\n' "$venv" >&2
        python3 -m venv "$venv"
    fi
    # Install only when requirements.txt changed since the last install.
    local want have=""
    want=$(sha256sum python/requirements.txt | cut -d' ' -f1)
    [[ -f $venv/.requirements.sha256 ]] && have=$(cat "$venv/.requirements.sha256")
    if [[ "$want" != "$have" ]]; then
        printf 'run_all: installing python/requirements.txt into %s\n' "$venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r python/requirements.txt
        printf '%s\n' "$want" >"$venv/.requirements.sha256"
    fi
}
if [[ $python -eq 1 ]]; then setup_python; fi

# --- One build of the whole workspace.
target=${CARGO_TARGET_DIR:-target}
if [[ $dev -eq 1 ]]; then
    cargo build --workspace --locked
    bin_dir=$target/debug
else
    cargo build --release --workspace --locked
    bin_dir=$target/release
fi

binaries=()
for crate in "${CRATES[@]}"; do
    [[ -x "$bin_dir/$crate" ]] || die "$bin_dir/$crate was not built (is $crate a workspace member?)"
    binaries+=("$bin_dir/$crate")
done

args=(run --scale "$scale" --results "$results")
[[ $quick -eq 1 ]] && args+=(--quick)
[[ $python -eq 1 ]] && args+=(--with-python)
args+=("${only[@]}")

printf 'run_all: scale %s (the tutorials'"'"' sleeps x %s)%s%s\n' "$scale" "$scale" \
    "$([[ $quick -eq 1 ]] && echo ', quick sizes' || echo ", the tutorials' sizes")" \
    "$([[ $dev -eq 1 ]] && echo ', debug build (timings not meaningful)' || true)" >&2
exec "$bin_dir/report" "${args[@]}" -- "${binaries[@]}"
