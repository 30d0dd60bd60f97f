# `make package` (cpack in the build folder): a Debian package of the installed tree, centro-harness_V_ARCH.deb.
# The package is made from the same install rules as `cmake --install`, into /usr, then dist/deb/prebuild.cmake
# turns that tree into Debian's layout (gzipped man pages, zsh vendor-completions, copyright, changelog.Debian.gz).
# The version is project(VERSION) plus the commit when the tree is not exactly at tag v<VERSION>
# (dist/deb/cpack-project.cmake, worked out when cpack runs, so a package made after a commit names that commit).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME centro-harness)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Centro")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "conformance and load tester for ASP.NET SignalR 2.x hubs")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"centro-harness drives many simulated hub clients over WebSockets, Server-Sent
Events and long polling as the official clients speak to a SignalR 2.4
server, checks negotiate, subscriptions, authorization and delivery of
updates, measures latency and throughput, and writes JSON, JUnit and HTML
reports. It includes a reference endpoint that can inject faults.")
set(CPACK_PACKAGE_CONTACT "centro-harness maintainers <centro-harness@example.com>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # centro-harness_VERSION-1_amd64.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)        # a Debian revision: not a native package, so changelog.Debian.gz
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Depends: from the libraries the binary actually links (dpkg-shlibdeps, package dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# ... and the one dpkg-shlibdeps cannot see: libwebsockets loads its libuv event loop as a plugin at run time
# (dlopen of libwebsockets-evlib_uv.so), without which every client and serve fails to start.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libwebsockets-evlib-uv")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_CH_SOURCE_DIR ${PROJECT_SOURCE_DIR})
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/dist/deb/cpack-project.cmake)
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/dist/deb/prebuild.cmake)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR})
include(CPack)
