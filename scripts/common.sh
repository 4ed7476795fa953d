# Shared by scripts/run, scripts/test, scripts/bench: install what is missing, build.
# Sourced, not run. Every package policyd needs on a fresh Debian 12 is named here once.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_PACKAGES=(build-essential cmake pkg-config libuv1-dev libhiredis-dev libfmt-dev
  libtomlplusplus-dev doctest-dev libssl-dev libhttp-parser-dev redis-server redis-tools
  nlohmann-json3-dev python3 python3-prometheus-client systemd man-db libgmime-3.0-dev)

# Installs the Debian packages given (only those missing), as root or through sudo.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq || true
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # Debian starts the packaged redis-server as a service; policyd's scripts start their own.
}

# build DIR [cmake args...]: configure once, then build everything.
build() {
  local dir=$1
  shift
  # ccache, when installed, makes rebuilds (and builds of other checkouts) cheap; CI has none.
  if command -v ccache >/dev/null; then
    export CCACHE_BASEDIR="$ROOT"
    set -- -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache "$@"
  fi
  cmake -S "$ROOT" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}
