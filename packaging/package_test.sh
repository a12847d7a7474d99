#!/usr/bin/env bash
# ctest package.deb: builds the Debian packages from a build tree with CPack into a scratch
# directory, unpacks them with dpkg-deb (-x: the files, -e: the control area) and checks what an
# installation would put on a machine. Nothing is installed here: no dpkg -i, no maintainer
# script is run (they are only parsed with sh -n).
#
#   package_test.sh BUILD_DIR VERSION CPACK SDK_EXAMPLES_DIR CMAKE_GENERATOR CXX_COMPILER
#
# Exit 77 (ctest: skipped) without dpkg-deb.
set -euo pipefail
build=$1
version=$2
cpack=$3
examples=$4
generator=$5
cxx=$6

if ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "SKIPPED: dpkg-deb not found (Debian's dpkg builds and unpacks .deb files)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/govesb-package-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

arch=$(dpkg --print-architecture)
if ! "$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log"
  echo "FAIL: cpack could not build the packages"
  exit 1
fi
deb="$work/out/govesb_${version}_${arch}.deb"
dev="$work/out/govesb-dev_${version}_${arch}.deb"
for f in "$deb" "$dev"; do
  [ -f "$f" ] || { ls "$work/out"; echo "FAIL: $(basename "$f") was not built"; exit 1; }
done
ok "built $(basename "$deb") and $(basename "$dev")"

root="$work/root"
control="$work/control"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$control"

# --- The control file.
field() { sed -n "s/^$1: //p" "$control/control"; }
[ "$(field Package)" = govesb ] || fail "Package is '$(field Package)'"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', the project's is $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)'"
depends=$(field Depends)
for d in adduser libssl3 libsqlite3-0; do
  [[ ", $depends," == *", $d"[\ ,]* ]] || fail "Depends lacks $d: $depends"
done
ok "control: govesb $version $arch, Depends: $depends"

# --- Files and the modes the package gives them (dpkg-deb -c lists what dpkg would create).
listing=$(dpkg-deb -c "$deb")
mode_of() { awk -v p="./${1#/}" '$6 == p || $6 == p "/" { print $1 " " $2 }' <<<"$listing"; }
expect_mode() {
  local got
  got=$(mode_of "$1")
  [ "$got" = "$2" ] && ok "$1 $2" || fail "$1 is '$got', expected '$2'"
}
expect_mode /usr/bin/govesb "-rwxr-xr-x root/root"
expect_mode /etc/govesb/govesb.conf "-rw-r----- root/root"  # postinst: root:govesb
expect_mode /lib/systemd/system/govesb.service "-rw-r--r-- root/root"
expect_mode /var/lib/govesb "drwx------ root/root"         # postinst: govesb:govesb

bin="$root/usr/bin/govesb"
[ -x "$bin" ] || fail "usr/bin/govesb is not executable"
if command -v readelf >/dev/null 2>&1; then
  sections=$(readelf -S --wide "$bin")
  if grep -qE '\.symtab|\.debug_info' <<<"$sections"; then
    fail "usr/bin/govesb is not stripped"
  else
    ok "usr/bin/govesb is stripped"
  fi
else
  echo "skipped: the stripped-binary check (readelf not found)"
fi

# --- The shipped configuration, checked by the packaged binary itself.
grep -qx /etc/govesb/govesb.conf "$control/conffiles" && ok "govesb.conf is a conffile" ||
  fail "conffiles does not list /etc/govesb/govesb.conf: $(cat "$control/conffiles" 2>/dev/null)"
if out=$("$bin" config check "$root/etc/govesb/govesb.conf" 2>&1); then
  ok "govesb config check: $out"
else
  fail "govesb config check refused the shipped govesb.conf: $out"
fi
conf="$root/etc/govesb/govesb.conf"
grep -qE '^data-dir = /var/lib/govesb$' "$conf" || fail "govesb.conf does not set data-dir /var/lib/govesb"
grep -qE '^plain-http = false$' "$conf" || fail "govesb.conf does not keep TLS on"

# --- The systemd unit.
unit="$root/lib/systemd/system/govesb.service"
for line in "Type=notify" "User=govesb" "Group=govesb" \
  "ExecStart=/usr/bin/govesb serve --config /etc/govesb/govesb.conf" "Restart=on-failure" \
  'ExecReload=/bin/kill -HUP $MAINPID' \
  "NoNewPrivileges=yes" "ProtectSystem=strict" "ReadWritePaths=/var/lib/govesb" \
  "PrivateTmp=yes" "ProtectHome=yes" "WantedBy=multi-user.target"; do
  grep -qxF "$line" "$unit" || fail "govesb.service lacks '$line'"
done
ok "govesb.service has its type, user, command, restart policy and sandbox"
host_units=$(for d in /usr/lib/systemd/system /lib/systemd/system; do [ -d "$d" ] && echo "$d"; done | head -1)
if command -v systemd-analyze >/dev/null 2>&1 && [ -n "$host_units" ]; then
  # Verified inside a copy of the unpacked tree (--root), so that ExecStart's /usr/bin/govesb and
  # the Documentation files are the package's; the host's units are copied beside it for the
  # targets the unit depends on (sysinit.target, network-online.target, ...). Any output is a
  # complaint: systemd-analyze reports unknown keys and bad values as warnings with exit 0.
  cp -a "$root" "$work/verify-root"
  mkdir -p "$work/verify-root/usr/lib/systemd/system"
  cp -an "$host_units/." "$work/verify-root/usr/lib/systemd/system/"
  # ExecReload runs the system's kill(1), which the package does not ship.
  mkdir -p "$work/verify-root/bin"
  cp -n "$(command -v kill || echo /bin/kill)" "$work/verify-root/bin/kill" 2>/dev/null ||
    cp -n /bin/kill "$work/verify-root/bin/kill"
  if out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no --generators=no \
    --root="$work/verify-root" /lib/systemd/system/govesb.service 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify: no complaint"
  else
    fail "systemd-analyze verify: $out"
  fi
else
  echo "skipped: systemd-analyze verify (no systemd-analyze or no systemd units on this machine;" \
    "Debian package systemd)"
fi

# --- Maintainer scripts: present, executable, valid sh, doing what the layout relies on.
for s in postinst prerm postrm; do
  if [ ! -x "$control/$s" ]; then
    fail "$s is missing or not executable"
  elif ! sh -n "$control/$s"; then
    fail "$s is not valid sh"
  fi
done
ok "postinst, prerm and postrm parse with sh -n"
post="$control/postinst"
grep -q 'adduser --system' "$post" || fail "postinst does not create the govesb system user"
grep -q 'chown govesb:govesb /var/lib/govesb' "$post" || fail "postinst does not give /var/lib/govesb to govesb"
grep -q 'chown root:govesb /etc/govesb/govesb.conf' "$post" || fail "postinst does not give govesb.conf to the group govesb"
grep -q 'deb-systemd-helper' "$post" || fail "postinst does not enable the unit"
grep -q 'deb-systemd-invoke stop' "$control/prerm" || fail "prerm does not stop the bus"
grep -q 'purge' "$control/postrm" || fail "postrm does not handle purge"

# --- The -dev package: the SDK and its CMake package, usable from where it was unpacked.
dev_root="$work/dev-root"
dpkg-deb -x "$dev" "$dev_root"
dpkg-deb -e "$dev" "$work/dev-control"
[ "$(sed -n 's/^Package: //p' "$work/dev-control/control")" = govesb-dev ] || fail "the -dev package is not named govesb-dev"
dev_listing=$(dpkg-deb -c "$dev" | awk '{print $6}')
for f in include/govesb/client.h include/govesb/govesb.h 'lib/.*libgovesb_sdk\.a' \
  'lib/.*cmake/govesb/govesbConfig\.cmake' 'lib/.*cmake/govesb/govesbTargets\.cmake'; do
  grep -qE "^\./usr/$f\$" <<<"$dev_listing" || fail "govesb-dev lacks usr/$f"
done
if grep -qE '^\./usr/bin/' <<<"$dev_listing"; then fail "govesb-dev carries a binary"; fi
if command -v readelf >/dev/null 2>&1; then
  for a in $(find "$dev_root" -name 'libgovesb_*.a'); do
    if readelf -S --wide "$a" | grep -q '\.debug_info'; then fail "$(basename "$a") keeps its debugging symbols"; fi
  done
fi
ok "govesb-dev: headers, stripped static libraries and the CMake package"
# sdk/examples built against the unpacked package with find_package(govesb), as another
# project would after `apt install govesb-dev`.
if cmake -S "$examples" -B "$work/consumer" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_PREFIX_PATH="$dev_root/usr" >"$work/consumer.log" 2>&1 &&
  cmake --build "$work/consumer" -j 2 >>"$work/consumer.log" 2>&1; then
  if grep -q "^govesb_DIR:PATH=$dev_root/usr/" "$work/consumer/CMakeCache.txt"; then
    ok "sdk/examples build against govesb-dev"
  else
    fail "sdk/examples did not use the unpacked govesb-dev: $(grep '^govesb_DIR' "$work/consumer/CMakeCache.txt")"
  fi
else
  cat "$work/consumer.log"
  fail "sdk/examples do not build against govesb-dev"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "package.deb: all checks passed"
