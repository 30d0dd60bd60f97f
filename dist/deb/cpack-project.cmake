# Read by cpack when it runs (CPACK_PROJECT_CONFIG_FILE): the Debian version. project(VERSION) alone when the
# source tree is exactly at tag v<VERSION>; otherwise <VERSION>+git<commits>.g<hash> (commit count first, so later
# builds sort later for dpkg), with .dirty when the tree has uncommitted changes; <VERSION> alone without git.
set(ch_v "${CPACK_PACKAGE_VERSION}")
find_program(CH_GIT git)
if(CH_GIT AND EXISTS "${CPACK_CH_SOURCE_DIR}/.git")
  execute_process(COMMAND ${CH_GIT} -C "${CPACK_CH_SOURCE_DIR}" describe --tags --exact-match --match "v${ch_v}"
                  RESULT_VARIABLE tagged OUTPUT_QUIET ERROR_QUIET)
  execute_process(COMMAND ${CH_GIT} -C "${CPACK_CH_SOURCE_DIR}" rev-list --count HEAD
                  OUTPUT_VARIABLE count OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(COMMAND ${CH_GIT} -C "${CPACK_CH_SOURCE_DIR}" rev-parse --short=7 HEAD
                  OUTPUT_VARIABLE hash OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(COMMAND ${CH_GIT} -C "${CPACK_CH_SOURCE_DIR}" status --porcelain --untracked-files=no
                  OUTPUT_VARIABLE changes ERROR_QUIET)
  if(NOT tagged EQUAL 0 AND count MATCHES "^[0-9]+$" AND hash MATCHES "^[0-9a-f]+$")
    set(ch_v "${ch_v}+git${count}.g${hash}")
  endif()
  if(changes AND ch_v MATCHES "[+]")
    set(ch_v "${ch_v}.dirty")
  elseif(changes)
    set(ch_v "${ch_v}+dirty")
  endif()
endif()
set(CPACK_DEBIAN_PACKAGE_VERSION "${ch_v}")
