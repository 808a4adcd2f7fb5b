#!/usr/bin/env bash
# One-time set-up on a fresh Debian 12 with the .NET 10 SDK. Safe to re-run; never prompts.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Installs only the packages dpkg reports absent; apt-get update runs once, and only then.
apt_install() {
  local missing=() pkg sudo=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo -n)
  fi
  [ -n "${apt_updated:-}" ] || { "${sudo[@]}" apt-get update -qq; apt_updated=1; }
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

# The TorchSharp GLIBCXX fix needs nothing from apt: MSBuild applies it (see DEVELOPERS.md).
# Headless Chromium checks the compression suite's report.html in a test; the plots (SkiaSharp, no fontconfig)
# need a TrueType font in /usr/share/fonts.
apt_install chromium fonts-dejavu-core

command -v dotnet >/dev/null 2>&1 || { echo "setup: the .NET 10 SDK is required (dotnet not on PATH)" >&2; exit 1; }
sdk=$(dotnet --version)
major=${sdk%%.*}
[[ $major =~ ^[0-9]+$ ]] && [ "$major" -ge 10 ] || { echo "setup: the .NET SDK must be version 10 or later, found '$sdk'" >&2; exit 1; }

dotnet restore RecsysEmbed.sln
