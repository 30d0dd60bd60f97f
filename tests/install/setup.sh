# Fixture: cmake --install into a fresh DESTDIR (tests/install/common.sh says where).
set -eu
dest=$CH_BUILD_DIR/test-install/destdir
rm -rf "$CH_BUILD_DIR/test-install"
DESTDIR=$dest "$CH_CMAKE" --install "$CH_BUILD_DIR" --prefix /usr/local
