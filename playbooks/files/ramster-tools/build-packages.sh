#!/bin/sh
# Builds the ramster-tools packages from the files beside this script:
#   OUTDIR/ramster-tools_VERSION_all.deb          (dpkg-deb)
#   OUTDIR/ramster-tools-VERSION-1.noarch.rpm     (rpmbuild; gzip payload so EL6's rpm reads it)
# Usage: build-packages.sh OUTDIR [VERSION]    (needs dpkg-deb and rpmbuild)
set -eu

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [VERSION]" >&2; exit 1; }
OUT=$1
SRC=$(cd "$(dirname "$0")" && pwd)
VERSION=${2:-$(sed -n 's/^VERSION=//p' "$SRC/ramster-ctl")}
PKG=ramster-tools
SUMMARY="Userland for the in-kernel RAMster memory cluster (Linux 3.4-3.10)"

for tool in dpkg-deb rpmbuild; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool is not installed" >&2; exit 1; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ramster-pkg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- .deb -------------------------------------------------------------------------------------
D="$WORK/deb"
install -D -m 0755 "$SRC/ramster-ctl" "$D/usr/sbin/ramster-ctl"
install -D -m 0755 "$SRC/ramster.init" "$D/etc/init.d/ramster"
install -D -m 0644 "$SRC/ramster.service" "$D/lib/systemd/system/ramster.service"
install -D -m 0644 "$SRC/ramster.default" "$D/etc/default/ramster"
mkdir -p "$D/DEBIAN"
cat >"$D/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: all
Maintainer: ramster-provision <root@localhost>
Depends: mawk | awk, mount, kmod
Section: admin
Priority: optional
Description: $SUMMARY
 ramster-ctl creates the cluster of /etc/ramster.conf in the kernel's configfs,
 marks nodes up and sets the remote target; with a systemd unit, a SysV init
 script and /etc/default/ramster. Replaces the lost EL6 ramster-tools.
EOF
printf '/etc/default/ramster\n/etc/init.d/ramster\n' >"$D/DEBIAN/conffiles"
dpkg-deb --root-owner-group --build "$D" "$OUT/${PKG}_${VERSION}_all.deb" >/dev/null

# --- .rpm -------------------------------------------------------------------------------------
R="$WORK/rpm"
mkdir -p "$R/SPECS" "$R/BUILD" "$R/RPMS" "$R/SRPMS" "$R/BUILDROOT"
cat >"$R/SPECS/$PKG.spec" <<EOF
Name: $PKG
Version: $VERSION
Release: 1
Summary: $SUMMARY
License: GPL-2.0-only
BuildArch: noarch
Requires: gawk

%description
ramster-ctl creates the cluster of /etc/ramster.conf in the kernel's configfs,
marks nodes up and sets the remote target; with a SysV init script (chkconfig
--add ramster; service ramster configure), a systemd unit and
/etc/sysconfig/ramster. Replaces the lost EL6 ramster-tools.

%install
install -D -m 0755 $SRC/ramster-ctl %{buildroot}/usr/sbin/ramster-ctl
install -D -m 0755 $SRC/ramster.init %{buildroot}/etc/rc.d/init.d/ramster
install -D -m 0644 $SRC/ramster.service %{buildroot}/usr/lib/systemd/system/ramster.service
install -D -m 0644 $SRC/ramster.default %{buildroot}/etc/sysconfig/ramster

%files
%attr(0755,root,root) /usr/sbin/ramster-ctl
%attr(0755,root,root) /etc/rc.d/init.d/ramster
%attr(0644,root,root) /usr/lib/systemd/system/ramster.service
%config(noreplace) %attr(0644,root,root) /etc/sysconfig/ramster
EOF
rpmbuild --quiet -bb \
    --define "_topdir $R" \
    --define "_binary_payload w9.gzdio" \
    --define "_build_id_links none" \
    "$R/SPECS/$PKG.spec" >/dev/null
cp "$R/RPMS/noarch/$PKG-$VERSION-1.noarch.rpm" "$OUT/"

echo "$OUT/${PKG}_${VERSION}_all.deb"
echo "$OUT/$PKG-$VERSION-1.noarch.rpm"
