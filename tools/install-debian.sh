#!/usr/bin/env bash
# Install Debian packages the workflow or its tests need, only those missing.
#   tools/install-debian.sh latex     # latexmk + TeX Live + mnras.cls (paper/ms.pdf)
#   tools/install-debian.sh slurm     # slurmctld, slurmd, munge (tests/test_slurm.py)
set -euo pipefail

declare -A GROUPS_=(
  [latex]="latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-publishers"
  [slurm]="slurmctld slurmd slurm-client munge"
)

wanted=()
for group in "$@"; do
  [[ -n "${GROUPS_[$group]:-}" ]] || { echo "install-debian.sh: unknown group '$group' (latex, slurm)" >&2; exit 2; }
  for pkg in ${GROUPS_[$group]}; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || wanted+=("$pkg")
  done
done
[[ ${#wanted[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "install-debian.sh: missing Debian packages: ${wanted[*]} — install them as root (apt-get install ${wanted[*]})" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "install-debian.sh: installing ${wanted[*]}"
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3; do
  if $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${wanted[@]}" >/dev/null; then
    exit 0
  fi
  echo "install-debian.sh: apt-get failed (attempt $attempt), retrying" >&2
  sleep $((attempt * 5))
done
echo "install-debian.sh: could not install ${wanted[*]}" >&2
exit 1
