#!/usr/bin/env bash
# Put Salon in the desktop's application menu (and its manual page where `man` finds it), for this user only.
#
#   packaging/install-desktop.sh               # install
#   packaging/install-desktop.sh --uninstall   # remove what install put there
#
# Install Salon itself first (pipx install ., uv tool install ., or the single-file executable on your PATH).
# Writes, under ${XDG_DATA_HOME:-~/.local/share}:
#   applications/salon.desktop                 the menu entry; it opens Salon in a terminal (Terminal=true)
#   icons/hicolor/scalable/apps/salon.svg      its icon
#   man/man1/salon.1                           `man salon` (generated from the CLI by make-manpage.py)
# SALON_EXEC=/path/to/salon names the command to launch when it is not on PATH; SALON_PYTHON the Python that
# generates the manual page (default: the one salon's own command runs on, else python3).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"
DESKTOP="$APPS/salon.desktop"
ICON="$ICONS/scalable/apps/salon.svg"
MANPAGE="$DATA/man/man1/salon.1"

refresh_caches() {
    # Menus and icon themes notice new files by themselves on most desktops; these make it immediate where present.
    if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$APPS" || true; fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$ICONS/index.theme" ]; then
        gtk-update-icon-cache -q -t "$ICONS" || true
    fi
}

# A desktop entry's Exec value: quoted per the Desktop Entry spec when the path needs it.
exec_value() {
    local path="$1"
    if [[ "$path" =~ ^[A-Za-z0-9_./+-]+$ ]]; then
        printf '%s' "$path"
    else
        path="${path//\\/\\\\\\\\}"
        path="${path//\"/\\\\\"}"
        path="${path//\`/\\\\\`}"
        path="${path//\$/\\\\\$}"
        printf '"%s"' "$path"
    fi
}

sed_text() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# The Python that generates the manual page: SALON_PYTHON, else the one a pipx or uv install of salon runs on (it has
# salon's dependencies), else python3.
manpage_python() {
    if [ -n "${SALON_PYTHON:-}" ]; then printf '%s' "$SALON_PYTHON"; return; fi
    local shebang=""
    if [ -f "$1" ] && [ "$(head -c 2 "$1" 2>/dev/null)" = "#!" ]; then
        shebang="$(head -n 1 "$1" | cut -c 3- | cut -d ' ' -f 1)"
    fi
    if [ -n "$shebang" ] && [ -x "$shebang" ] && [ "$(basename "$shebang")" != env ]; then
        printf '%s' "$shebang"
    else
        printf 'python3'
    fi
}

install_entry() {
    local salon="${SALON_EXEC:-$(command -v salon || true)}"
    if [ -z "$salon" ]; then
        echo "install-desktop: 'salon' is not on PATH; the menu entry will run 'salon' and work once it is" >&2
        salon="salon"
    fi
    mkdir -p "$APPS" "$(dirname "$ICON")" "$(dirname "$MANPAGE")"

    # An absolute Exec path: a desktop session's PATH often lacks ~/.local/bin, where pipx and uv put commands.
    local value staging
    value="$(exec_value "$salon")"
    # Staged outside the applications folder, so a menu never sees a half-written or invalid entry.
    staging="$(mktemp -d)"
    # Exec is quoted per the spec; TryExec is a plain path. Both are escaped for sed's replacement text.
    sed -e "s|^Exec=.*|Exec=$(sed_text "$value")|" -e "s|^TryExec=.*|TryExec=$(sed_text "$salon")|" \
        "$HERE/salon.desktop" >"$staging/salon.desktop"
    if command -v desktop-file-validate >/dev/null 2>&1; then
        desktop-file-validate "$staging/salon.desktop" || { rm -rf "$staging"; exit 1; }
    fi
    install -m 0644 "$staging/salon.desktop" "$DESKTOP"
    rm -rf "$staging"
    install -m 0644 "$HERE/salon.svg" "$ICON"
    echo "installed $DESKTOP (runs $salon)"
    echo "installed $ICON"

    if "$(manpage_python "$salon")" "$HERE/make-manpage.py" -o "$MANPAGE.tmp" 2>/dev/null; then
        mv "$MANPAGE.tmp" "$MANPAGE"
        echo "installed $MANPAGE"
    else
        rm -f "$MANPAGE.tmp"
        echo "install-desktop: could not generate the manual page (needs python3 >= 3.11); skipped" >&2
    fi
    refresh_caches
}

uninstall_entry() {
    local file
    for file in "$DESKTOP" "$ICON" "$MANPAGE"; do
        if [ -e "$file" ]; then
            rm -f "$file"
            echo "removed $file"
        fi
    done
    refresh_caches
}

case "${1:-}" in
    "") install_entry ;;
    --uninstall) uninstall_entry ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "usage: $0 [--uninstall]" >&2; exit 2 ;;
esac
