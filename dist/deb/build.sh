#!/usr/bin/env bash
# Builds the Debian package of ramswap from this checkout:
#
#   dist/deb/build.sh [--version V] [--out DIR]
#
# writes DIR/ramswap_V_ARCH.deb (DIR: target/deb; V: the Maven version, "-" as "~"). It builds
# the jar and the trimmed Java runtime the way ./ramswap does (Maven, jlink; both are needed
# here, not where the package is installed), generates the completion scripts and man pages from
# the command's own help, and packs them with the launcher, the systemd unit and the default
# config /etc/ramswap/ramswap.conf. Install with: sudo apt-get install ./ramswap_V_ARCH.deb
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
version=""
out="$root/target/deb"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "build.sh: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (Debian's dpkg)"
if [ -z "$version" ]; then
  version="$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -1 | tr '-' '~')"
fi
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "--version $version is not a Debian version (digits first, then letters, digits, . + ~)"
arch="$(dpkg --print-architecture)"

echo "build.sh: the jar and the Java runtime (./ramswap --version builds both when they are missing or old)" >&2
RAMSWAP_FULL_JDK='' "$root/ramswap" --version >&2
jar="$root/cli/target/ramswap.jar"
runtime="$root/cli/target/runtime"
[ -x "$runtime/bin/java" ] || die "no trimmed Java runtime was made in $runtime (jlink and a JDK's jmods are needed: sudo apt-get install -y openjdk-17-jdk-headless)"

stage="$(mktemp -d "${TMPDIR:-/tmp}/ramswap-deb.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
pkg="$stage/ramswap_${version}_$arch"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/ramswap" "$pkg/lib/systemd/system" "$pkg/etc/ramswap" \
  "$pkg/usr/share/man/man1" "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
  "$pkg/usr/share/doc/ramswap"
install -m 644 "$jar" "$pkg/usr/lib/ramswap/ramswap.jar"
cp -a "$runtime" "$pkg/usr/lib/ramswap/runtime"
rm -f "$pkg/usr/lib/ramswap/runtime/ramswap-jlink-options"
sed "s|@VERSION@|$version|" "$root/dist/deb/launcher" > "$pkg/usr/bin/ramswap"
chmod 755 "$pkg/usr/bin/ramswap"
install -m 644 "$root/dist/deb/ramswap.conf" "$pkg/etc/ramswap/ramswap.conf"
# the unit of a checkout in /opt/ramswap, pointed at the package's launcher and its config file
sed -e 's|/opt/ramswap/ramswap up --mount /run/ramswap --log /var/log/ramswap.log|/usr/bin/ramswap up --mount /run/ramswap @/etc/ramswap/ramswap.conf|' \
    -e 's|/opt/ramswap/ramswap|/usr/bin/ramswap|g' \
    -e 's|^Documentation=.*|Documentation=man:ramswap(1) man:ramswap-up(1) file:/usr/share/doc/ramswap/README.md|' \
    -e '1i # ramswap as a system service, from its Debian package. Options of up: /etc/ramswap/ramswap.conf.\n# Then: systemctl enable --now ramswap' \
    -e '/^# ramswap as a system service. Install:/,/^# \/etc\/systemd\/system\//d' \
    "$root/dist/systemd/ramswap.service" > "$pkg/lib/systemd/system/ramswap.service"
grep -q '^ExecStart=/usr/bin/ramswap up --mount /run/ramswap @/etc/ramswap/ramswap.conf$' "$pkg/lib/systemd/system/ramswap.service" \
  || die "dist/systemd/ramswap.service changed its ExecStart; update the sed above"
docs="$stage/docs"
"$runtime/bin/java" -cp "$jar" ramswap.cli.ShellDocs "$docs"
install -m 644 "$docs/bash-completion/ramswap" "$pkg/usr/share/bash-completion/completions/ramswap"
install -m 644 "$docs/zsh/_ramswap" "$pkg/usr/share/zsh/vendor-completions/_ramswap"
for page in "$docs"/man/*.1; do
  gzip -9n < "$page" > "$pkg/usr/share/man/man1/$(basename "$page").gz"
done
install -m 644 "$root/README.md" "$pkg/usr/share/doc/ramswap/README.md"
cp -r "$root/docs" "$pkg/usr/share/doc/ramswap/docs"

cat > "$pkg/DEBIAN/control" <<CONTROL
Package: ramswap
Version: $version
Architecture: $arch
Section: admin
Priority: optional
Maintainer: ramswap developers <ramswap@localhost>
Depends: libfuse3-3, util-linux, mount
Installed-Size: $(du -sk "$pkg" --exclude=DEBIAN | cut -f1)
Description: swap space in the RAM of a cluster
 A FUSE swap file whose 4 KiB pages are LZ4-compressed and kept in memory,
 on this node or on another node of a Hazelcast cluster, turned on with
 loop devices and swapon. Includes its own trimmed Java runtime.
CONTROL
echo "/etc/ramswap/ramswap.conf" > "$pkg/DEBIAN/conffiles"
cat > "$pkg/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
# the unit is installed, not enabled: swap starts when the operator says so (systemctl enable --now ramswap)
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
SCRIPT
cat > "$pkg/DEBIAN/prerm" <<'SCRIPT'
#!/bin/sh
set -e
# Removing the package under a running daemon would take its launcher away while swap may hold
# pages in it: refuse, and say what to do. An upgrade replaces the files under it, which is safe
# (the daemon keeps the ones it opened) and takes effect at its next start.
if [ "$1" = remove ] && pgrep -f -- '-cp /usr/lib/ramswap/ramswap.jar ramswap.cli.Main up' >/dev/null; then
  echo "ramswap is running from this package: stop it first (systemctl stop ramswap, or: ramswap down --mount DIR)" >&2
  exit 1
fi
SCRIPT
cat > "$pkg/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
SCRIPT
chmod 755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"
mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/ramswap_${version}_$arch.deb" >&2
echo "$out/ramswap_${version}_$arch.deb"
